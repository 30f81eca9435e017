"""Callbacks on every request attempt, retry and stream reconnect: for metrics and logs.

::

    from losant_async import LosantClient
    from losant_async.hooks import Hooks, ResponseEvent

    def record(event: ResponseEvent) -> None:
        latency.labels(event.path_template or "raw", event.status).observe(event.elapsed)

    client = LosantClient(hooks=Hooks(on_response=record))

- ``on_request(RequestEvent)``: an attempt is about to be sent (its concurrency slot and
  rate-limit token taken), once per attempt.
- ``on_response(ResponseEvent)``: that attempt ended, with its status, or with status
  None and the error when no answer came (a network failure, a timeout, cancellation).
  Every ``on_request`` is followed by exactly one ``on_response``.
- ``on_retry(RetryEvent)``: the attempt that just failed will be sent again after
  ``delay`` seconds.
- ``on_stream_reconnect(StreamReconnectEvent)``: a stream lost its connection, or could
  not connect, and tries again after ``delay`` seconds (each attempt counts, as in
  ``stream.stats.reconnects``). A stream's connects are not calls: they fire neither
  ``on_request`` nor ``on_response``.

Callbacks are plain functions, called synchronously in the task that makes the call:
metrics, logs and counters need no ``await``, and an awaited callback would hold the
call's concurrency slot while it ran. A coroutine function is refused with a
``TypeError`` when :class:`Hooks` is built; to do async work, hand the event to a task
(``queue.put_nowait(event)``).

A callback that raises does not change the call: the exception is logged (logger
``losant_async``, level ERROR, with its traceback) and dropped. A hook observes; had its
exception propagated, a metrics bug would turn a call that succeeded, say a POST the
server applied, into an error the caller may answer by sending it again.

Events are frozen and hold no header, so never the token. ``path_template`` is the API's
path (``/applications/{applicationId}/devices/{deviceId}``), fit for metric labels;
``path`` is the path sent, IDs filled in (no query), for logs. For
``client.request(...)`` and ``client.stream(...)``, ``action`` and ``path_template`` are
None.

OpenTelemetry spans are the client's ``tracing=`` option (see ``losant_async._tracing``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import msgspec

from .errors import LosantError

__all__ = [
    "Hooks",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "StreamReconnectEvent",
    "StreamReconnectReason",
]


class RequestEvent(msgspec.Struct, frozen=True):
    """An attempt about to be sent."""

    action: str | None  # "device.get"; None for client.request()
    method: str  # "GET"
    path_template: str | None  # "/applications/{applicationId}/devices/{deviceId}"
    path: str  # the path sent, IDs filled in and quoted, without the query
    attempt: int  # 1 for the first send, 2 for the first retry, ...


class ResponseEvent(msgspec.Struct, frozen=True):
    """An attempt that ended: answered (``status``) or not (``status`` None, ``error``)."""

    action: str | None
    method: str
    path_template: str | None
    path: str
    attempt: int
    status: int | None  # None when no answer arrived
    elapsed: float  # seconds from on_request to the whole body read (or the failure)
    # None on a 2xx; else the LosantError the attempt failed with (retried or not), or
    # what interrupted it (asyncio.CancelledError).
    error: BaseException | None


class RetryEvent(msgspec.Struct, frozen=True):
    """The attempt ``attempt`` failed and is sent again after ``delay`` seconds."""

    action: str | None
    method: str
    path_template: str | None
    path: str
    attempt: int  # the attempt that failed; the next is attempt + 1
    status: int | None  # the failed attempt's status; None when no answer arrived
    error: LosantError
    delay: float  # seconds, Retry-After honoured


StreamReconnectReason = Literal["closed", "silent", "error", "refused"]


class StreamReconnectEvent(msgspec.Struct, frozen=True):
    """A stream connects again after ``delay`` seconds.

    ``reason``: the connection was ``"closed"`` by the server, ``"silent"`` longer than
    the stream's ``idle_timeout``, lost to an ``"error"`` (of the network, or a connect
    that got no answer: ``error`` is set), or the connect was ``"refused"`` with a status
    worth retrying (429, 503, ...: ``status`` and ``error`` are set).
    """

    action: str | None  # "application.mqttSubscriptionStream"; None for client.stream()
    path_template: str | None
    path: str
    attempt: int  # reconnect attempts in a row since an event last arrived, from 1
    reason: StreamReconnectReason
    status: int | None
    error: LosantError | None
    delay: float


def _check(name: str, hook: object) -> None:
    if hook is None:
        return
    if not callable(hook):
        raise TypeError(f"{name} must be callable, not {type(hook).__name__}")
    if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
        getattr(hook, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        raise TypeError(
            f"{name} is a coroutine function: hooks are called synchronously "
            "(hand the event to a task, e.g. queue.put_nowait(event), for async work)"
        )


@dataclass(frozen=True, slots=True)
class Hooks:
    """Callbacks on a client's requests and streams: ``LosantClient(hooks=Hooks(...))``.

    Each takes one event and returns None; see the module docstring for when each is
    called, why they are synchronous and what happens when one raises.
    """

    on_request: Callable[[RequestEvent], None] | None = None
    on_response: Callable[[ResponseEvent], None] | None = None
    on_retry: Callable[[RetryEvent], None] | None = None
    on_stream_reconnect: Callable[[StreamReconnectEvent], None] | None = None

    def __post_init__(self) -> None:
        _check("on_request", self.on_request)
        _check("on_response", self.on_response)
        _check("on_retry", self.on_retry)
        _check("on_stream_reconnect", self.on_stream_reconnect)
