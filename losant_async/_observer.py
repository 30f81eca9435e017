"""What the transport and streams tell the client's hooks and spans, in one object.

The request pipeline holds an :class:`Observer` only when the client was given
``hooks=`` or ``tracing=``; otherwise the pipeline's ``observer`` is None and each of its
marked lines costs one ``is not None`` test. Everything hooks and tracing do happens here,
so that the pipeline's lines stay one call each.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from .errors import APIError, LosantError
from .hooks import (
    Hooks,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    StreamReconnectEvent,
    StreamReconnectReason,
)

if TYPE_CHECKING:
    import aiohttp
    from opentelemetry.trace import Span

    from ._action import Action
    from ._tracing import Tracing

logger = logging.getLogger("losant_async")


def _run(name: str, hook: Any, event: object) -> None:
    """Call one hook; what it raises is logged and dropped (see losant_async.hooks)."""
    try:
        result = hook(event)
    except Exception:
        logger.exception("the %s hook raised; the call goes on", name)
        return
    if result is not None and inspect.iscoroutine(result):
        # A coroutine from a callable that was not a coroutine function (a lambda
        # around one): never run, so closed rather than left to warn "never awaited".
        result.close()
        logger.error("the %s hook returned a coroutine, which was not run", name)


class Attempt:
    """One request attempt between its start and its end."""

    __slots__ = ("action", "attempt", "ended", "method", "path", "span", "started", "template")

    def __init__(
        self, action: str | None, template: str | None, method: str, path: str, attempt: int
    ) -> None:
        self.action = action
        self.template = template
        self.method = method
        self.path = path
        self.attempt = attempt
        self.started = time.perf_counter()
        self.span: Span | None = None
        self.ended = False


class Observer:
    """A client's hooks and tracing, as the request pipeline and streams call them."""

    __slots__ = (
        "base_url",
        "on_request",
        "on_response",
        "on_retry",
        "on_stream_reconnect",
        "tracing",
    )

    def __init__(self, hooks: Hooks | None, tracing: Tracing | None, base_url: str) -> None:
        hooks = hooks or Hooks()
        self.on_request = hooks.on_request
        self.on_response = hooks.on_response
        self.on_retry = hooks.on_retry
        self.on_stream_reconnect = hooks.on_stream_reconnect
        self.tracing = tracing
        self.base_url = base_url

    # -- calls --------------------------------------------------------------------------

    def start(
        self, action: Action[Any] | None, method: str, path: str, url: str, attempt: int
    ) -> Attempt:
        """An attempt (``attempt`` from 1) at ``url`` is about to be sent; ``path`` is its
        path from the base URL, without the query."""
        if action is not None:
            a = Attempt(action.qualname, action.path, method, path, attempt)
        else:
            a = Attempt(None, None, method, path, attempt)
        if self.tracing is not None:
            a.span = self.tracing.start(method, a.template, url, attempt - 1, a.action)
        if self.on_request is not None:
            _run(
                "on_request",
                self.on_request,
                RequestEvent(a.action, a.method, a.template, a.path, attempt),
            )
        return a

    def end(self, a: Attempt | None, status: int | None, error: BaseException | None) -> None:
        """The attempt ended: answered with ``status``, or failed with ``error``. Only the
        first end of an attempt counts, so a pipeline may end one on every way out."""
        if a is None or a.ended:
            return
        a.ended = True
        if a.span is not None:
            assert self.tracing is not None
            self.tracing.end(a.span, status, error)
        if self.on_response is not None:
            _run(
                "on_response",
                self.on_response,
                ResponseEvent(
                    a.action,
                    a.method,
                    a.template,
                    a.path,
                    a.attempt,
                    status,
                    time.perf_counter() - a.started,
                    error,
                ),
            )

    def retry(self, a: Attempt, status: int | None, error: LosantError, delay: float) -> None:
        """The attempt failed and is sent again in ``delay`` seconds."""
        if self.on_retry is not None:
            _run(
                "on_retry",
                self.on_retry,
                RetryEvent(a.action, a.method, a.template, a.path, a.attempt, status, error, delay),
            )

    # -- streams ------------------------------------------------------------------------

    async def stream_connect(
        self,
        connect: Awaitable[aiohttp.ClientResponse],
        action: Action[Any] | None,
        url: str,
        resends: int,
    ) -> tuple[aiohttp.ClientResponse, Span | None]:
        """Await ``connect``, a stream's connection attempt at ``url``, in its span when
        tracing: the answer, and the span if the connection opened (it is to end with the
        connection; otherwise it ended here)."""
        if self.tracing is None:
            return await connect, None
        template = None if action is None else action.path
        qualname = None if action is None else action.qualname
        span = self.tracing.start("GET", template, url, resends, qualname)
        try:
            response = await connect
        except BaseException as exc:
            self.tracing.end(span, getattr(exc, "status", None), exc)
            raise
        if response.status == 200 and response.content_type == "text/event-stream":
            self.tracing.answered(span, response.status)
            return response, span
        self.tracing.end(span, response.status, None)
        return response, None

    def stream_reconnect(
        self,
        action: Action[Any] | None,
        path: str,
        attempt: int,
        delay: float,
        lost: StreamReconnectReason,
        failure: LosantError | None = None,
    ) -> None:
        """A stream tries again in ``delay`` seconds, after its connection was ``lost``
        or its connect failed (``failure``)."""
        if self.on_stream_reconnect is None:
            return
        status = None
        if isinstance(failure, APIError):
            lost, status = "refused", failure.status
        elif failure is not None:
            lost = "error"
        event = StreamReconnectEvent(
            None if action is None else action.qualname,
            None if action is None else action.path,
            path, attempt, lost, status, failure, delay,
        )  # fmt: skip
        _run("on_stream_reconnect", self.on_stream_reconnect, event)


def observer(hooks: Hooks | None, tracing: object, base_url: str) -> Observer | None:
    """The observer for a client's ``hooks=`` and ``tracing=``, or None for neither."""
    if hooks is not None and not isinstance(hooks, Hooks):
        raise TypeError(f"hooks must be a losant_async.hooks.Hooks, not {type(hooks).__name__}")
    spans = None
    if tracing is not None and tracing is not False:
        from ._tracing import Tracing

        spans = Tracing(tracing, base_url)
    if hooks is None and spans is None:
        return None
    return Observer(hooks, spans, base_url)
