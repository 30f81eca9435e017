"""Fault injection: each kind of fault a small class carrying what it does to a request or
a stream, and the seeded rules that say which requests get which fault.

``server.faults.add(Status(503, retry_after=1), action="instanceOrg.get", times=1)``.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import ClassVar

import msgspec
from aiohttp import web

from ._journal import JournalEntry
from ._schema import JSON

__all__ = [
    "Fault",
    "FaultRule",
    "Faults",
    "Html",
    "Latency",
    "ResetAfter",
    "ResetBefore",
    "Status",
    "StreamDrop",
    "StreamStall",
    "Truncate",
]

HTML_BODY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
_STATUS_KINDS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(slots=True)
class StreamPlan:
    """How a stream misbehaves, as its faults shape it: end after ``drop_every`` events (0:
    never); after ``stall_after`` events (-1: never) send nothing for ``stall_seconds``."""

    drop_every: int = 0
    stall_after: int = -1
    stall_seconds: float = 0.0


class Fault:
    """A kind of fault. Each acts at one step of a request: ``pause`` before anything,
    ``before_body`` before the body is read, ``instead`` of the answer, ``send`` in place
    of sending it; stream faults ``shape`` an SSE stream. The base does nothing."""

    __slots__ = ()

    # Pauses add up; of the faults that replace or break the answer, one applies.
    replaces_answer: ClassVar[bool] = False
    on_streams_only: ClassVar[bool] = False

    def pause(self, rng: random.Random) -> float:
        """Seconds to wait before handling the request."""
        return 0.0

    def before_body(self, request: web.Request) -> web.StreamResponse | None:
        """A response (or a dropped connection) before the request body is read."""
        return None

    def instead(self, request: web.Request) -> web.Response | None:
        """A response in place of the answer, once the body is read."""
        return None

    async def send(
        self, request: web.Request, entry: JournalEntry, status: int, body: bytes
    ) -> web.StreamResponse | None:
        """Send the answer (``status``, JSON ``body``) some other way."""
        return None

    def shape(self, plan: StreamPlan) -> None:
        """Change how an SSE stream behaves."""


NO_FAULT = Fault()


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Wait ``delay`` seconds, plus up to ``jitter`` more, before answering."""

    delay: float = 0.1
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.delay < 0 or self.jitter < 0:
            raise ValueError("delay and jitter must not be negative")

    def pause(self, rng: random.Random) -> float:
        return self.delay + rng.uniform(0.0, self.jitter)


@dataclass(frozen=True, slots=True)
class Status(Fault):
    """Answer ``status`` with a JSON error (or ``body``: bytes, text or JSON), and a
    ``Retry-After`` of ``retry_after`` (seconds or an HTTP date) and ``headers``."""

    replaces_answer: ClassVar[bool] = True

    status: int = 503
    retry_after: float | str | None = None
    body: JSON = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        _check_status(self.status)

    def instead(self, request: web.Request) -> web.Response:
        headers = dict(self.headers or {})
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.body is None:
            kind = _STATUS_KINDS.get(self.status, "Error")
            message = f"Injected {self.status} {kind}"
            payload = msgspec.json.encode({"type": kind, "message": message})
        elif isinstance(self.body, bytes):
            payload = self.body
        elif isinstance(self.body, str):
            payload = self.body.encode()
        else:
            payload = msgspec.json.encode(self.body)
        return web.Response(
            status=self.status, body=payload, content_type="application/json", headers=headers
        )


@dataclass(frozen=True, slots=True)
class Html(Fault):
    """Answer ``status`` with an HTML page, as a proxy in front of the API would."""

    replaces_answer: ClassVar[bool] = True

    status: int = 502
    body: str = HTML_BODY

    def __post_init__(self) -> None:
        _check_status(self.status)

    def instead(self, request: web.Request) -> web.Response:
        return web.Response(status=self.status, text=self.body, content_type="text/html")


@dataclass(frozen=True, slots=True)
class ResetBefore(Fault):
    """Drop the connection before reading the request body."""

    replaces_answer: ClassVar[bool] = True

    def before_body(self, request: web.Request) -> web.StreamResponse:
        return abort(request)


@dataclass(frozen=True, slots=True)
class ResetAfter(Fault):
    """Read the request, then drop the connection without answering."""

    replaces_answer: ClassVar[bool] = True

    def instead(self, request: web.Request) -> web.Response:
        return abort(request)


@dataclass(frozen=True, slots=True)
class Truncate(Fault):
    """Declare the whole answer's Content-Length, send half of it, then close."""

    replaces_answer: ClassVar[bool] = True

    async def send(
        self, request: web.Request, entry: JournalEntry, status: int, body: bytes
    ) -> web.StreamResponse:
        # A clean close (FIN after the half), as a proxy that gives up would: an abort (RST)
        # could make the client's kernel discard the half before the client read it.
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        entry.status = status
        entry.response = body
        if request.transport is not None:
            request.transport.close()
        return response


@dataclass(frozen=True, slots=True)
class StreamDrop(Fault):
    """Close an SSE stream after every ``every`` events."""

    on_streams_only: ClassVar[bool] = True

    every: int = 1

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError("every must be at least 1")

    def shape(self, plan: StreamPlan) -> None:
        plan.drop_every = plan.drop_every or self.every


@dataclass(frozen=True, slots=True)
class StreamStall(Fault):
    """After ``after`` events, send nothing (not even keepalives) for ``seconds``."""

    on_streams_only: ClassVar[bool] = True

    after: int = 0
    seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.after < 0 or self.seconds < 0:
            raise ValueError("after and seconds must not be negative")

    def shape(self, plan: StreamPlan) -> None:
        if plan.stall_after < 0:
            plan.stall_after, plan.stall_seconds = self.after, self.seconds


KINDS = (Latency, Status, Html, ResetBefore, ResetAfter, Truncate, StreamDrop, StreamStall)


def _check_status(status: int) -> None:
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, not {status!r}")


def abort(request: web.Request) -> web.Response:
    """Drop the connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


@dataclass(slots=True)
class FaultRule:
    """One rule: the ``fault``, the action it applies to (None: all), how often (``rate``),
    and how many times at most (``times``, None: unlimited). ``hits`` counts the requests
    it was applied to."""

    fault: Fault
    action: str | None = None
    times: int | None = None
    rate: float = 1.0
    hits: int = field(default=0)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class Faults:
    """The fault rules of a server, applied in the order added (see :data:`KINDS`)."""

    def __init__(self, seed: int = 0, actions: Collection[str] = ()) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(f"faults:{seed}")
        self._actions = frozenset(actions)  # the qualnames a rule may name (empty: any)

    def add(
        self,
        fault: Fault,
        *,
        action: str | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Apply ``fault`` to ``action`` (``"instanceOrg.get"``; None: every action), at
        most ``times`` times, to a ``rate`` share of requests; returns the rule (its
        ``hits`` count the requests it affected)."""
        if not isinstance(fault, Fault) or type(fault) is Fault:
            names = ", ".join(k.__name__ for k in KINDS)
            raise TypeError(f"faults.add takes a fault ({names}), not {fault!r}")
        if action is not None and self._actions and action not in self._actions:
            near = difflib.get_close_matches(action, self._actions, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ValueError(f"unknown action {action!r}{hint}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        rule = FaultRule(fault, action, times, rate)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def _fires(self, rule: FaultRule, qualname: str | None) -> bool:
        if rule.exhausted or (rule.action is not None and rule.action != qualname):
            return False
        if rule.rate < 1.0 and self._rng.random() >= rule.rate:
            return False
        rule.hits += 1
        return True

    def for_request(self, qualname: str | None) -> tuple[float, Fault]:
        """Seconds to pause, and the one fault that replaces or breaks the answer (else
        :data:`NO_FAULT`)."""
        pause = 0.0
        answer = NO_FAULT
        for rule in self.rules:
            fault = rule.fault
            if fault.on_streams_only:
                continue
            if not fault.replaces_answer:
                if self._fires(rule, qualname):
                    pause += fault.pause(self._rng)
            elif answer is NO_FAULT and self._fires(rule, qualname):
                answer = fault
        return pause, answer

    def plan_stream(self, qualname: str) -> StreamPlan:
        """How a new SSE connection of ``qualname`` misbehaves."""
        plan = StreamPlan()
        for rule in self.rules:
            if rule.fault.on_streams_only and self._fires(rule, qualname):
                rule.fault.shape(plan)
        return plan
