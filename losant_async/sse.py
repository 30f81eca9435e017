"""Server-sent event streams that stay up for weeks.

:class:`EventStream` serves the three streaming actions
(``application.mqtt_subscription_stream``, ``device.state_stream``,
``device.command_stream``) and :meth:`LosantClient.stream` for any other SSE URL. It
reconnects on EOF, network errors and silence longer than its idle watchdog, with
exponential backoff and jitter (the server's ``retry:`` as the base, reset once a
connection delivers events), sends ``Last-Event-ID`` once an id was seen, honours
``Retry-After`` on 429/503, and raises the typed :class:`~losant_async.LosantError` on
400/401/403/404 and on any answer but 200 below 400, rather than looping.

What comes from aiohttp-sse-client and what is owned here: the package stays the event
vocabulary for code written against it (:meth:`ServerSentEvent.to_message_event` gives its
``MessageEvent``), but its connection loop cannot serve: its parser mis-reads CR-only line
ends, a leading BOM and ``data:  x``, crashes on an id holding NUL, and its reconnects
double without bound or jitter and have no idle watchdog. The decoder
(:mod:`losant_async._sse_decoder`), the handshake (which must raise typed errors per
status) and the reconnect loop are therefore this module's own.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Self, TypeVar, cast

import aiohttp
import anyio
import msgspec

from ._encoding import encode_params
from ._retry import parse_retry_after
from ._sse_decoder import EventTooLarge, ServerSentEvent, SSEDecoder
from ._transport import describe_failure
from ._types import Timeout
from .errors import APIError, DecodeError, LosantError, StreamError, error_for_status

if TYPE_CHECKING:
    from ._action import Action
    from ._transport import Transport

__all__ = ["EventStream", "SSEDecoder", "ServerSentEvent", "StreamStats"]

T = TypeVar("T")

logger = logging.getLogger("losant_async")


def _fatal(status: int) -> bool:
    """Statuses after which reconnecting cannot help: the request itself is wrong.
    408 and 429 are the client errors that do pass."""
    return 400 <= status < 500 and status not in (408, 429)


# Seconds. The least backoff base when the server sets the pace (``retry:`` or
# ``Retry-After``), which may be 0: a server must not be able to cause a tight loop.
_MIN_SERVER_RETRY = 0.1


class StreamStats(msgspec.Struct):
    """Counters for operators: events delivered, reconnects, last event time and id."""

    events: int = 0
    reconnects: int = 0
    connects: int = 0
    last_event_time: float | None = None  # time.time() of the last delivered event
    last_event_id: str = ""


def _to_message_event(event: ServerSentEvent, origin: str | None = None) -> Any:
    from aiohttp_sse_client.client import MessageEvent

    return MessageEvent(
        type=event.event, message=event.event, data=event.data, origin=origin,
        last_event_id=event.id,
    )  # fmt: skip


ServerSentEvent.to_message_event = _to_message_event  # type: ignore[attr-defined]


class EventStream(Generic[T]):
    """``async with`` it, then ``async for`` over its events; leaving closes the connection.

    Only the events of the action's own types (``mqttMessage``, ``deviceState``,
    ``deviceCommand``) reach the caller, decoded to their models; keepalives and other
    types are dropped. A :class:`~losant_async.DecodeError` for one event leaves the
    stream usable.

    Settings are public attributes, set on the stream before entering it::

        stream = client.device.state_stream(application_id=app, device_id=dev)
        stream.max_event_size = 64 * 1024
        stream.max_reconnects = 100

    - ``idle_timeout``: seconds of silence, the wait for a connection's answer included,
      before reconnecting (None: no limit); the stream actions use three times their
      ``keep_alive_interval``.
    - ``max_event_size``: bytes (UTF-8) one event's data or one line may take, default
      1 MiB (None: unbounded); a larger event ends the stream with
      :class:`~losant_async.StreamError` once the events before it are delivered.
    - ``backoff_base``, ``backoff_max``: seconds; after ``n`` reconnects in a row that
      delivered nothing, the next waits a random time in ``[c / 2, c]``,
      ``c = min(backoff_max, base * 2**n)``, the base being the server's ``retry:`` when
      it sent one. When the server sets the pace (``retry:``, or ``Retry-After`` on
      429/503) the base is at least 0.1 s, whatever ``backoff_max``, so ``retry: 0`` or
      ``Retry-After: 0`` cannot cause a tight loop.
    - ``retry_after_max``: the longest ``Retry-After`` obeyed, in seconds; the wait is
      the longer of it and the backoff above.
    - ``max_reconnects``: reconnects allowed over the stream's life (None: no limit);
      beyond it :class:`~losant_async.StreamError` is raised.
    """

    def __init__(
        self,
        transport: Transport,
        path: str,
        query: str,
        *,
        models: Mapping[str, str] | None,
        idle_timeout: float | None,
        max_event_size: int | None = 1 << 20,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 300.0,
        max_reconnects: int | None = None,
        connect_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._transport = transport
        self.path = path
        self._query = query
        self._headers = dict(headers or {})
        self._models = models
        self.idle_timeout = idle_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.max_reconnects = max_reconnects
        self._connect_timeout = connect_timeout
        self._decoder = SSEDecoder(max_event_size=max_event_size)
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._response: aiohttp.ClientResponse | None = None
        self._pending: deque[ServerSentEvent] = deque()
        self._error: StreamError | None = None  # raised once _pending is delivered
        self._failures = 0  # consecutive connections that delivered nothing
        self._closed = False
        # Scope of the iterating task's reconnect (backoff wait and connect): aclose()
        # from another task cancels it, so that closing does not wait for either.
        self._scope: anyio.CancelScope | None = None
        self.stats = StreamStats()

    # -- construction ----------------------------------------------------------------

    @classmethod
    def for_action(
        cls, transport: Transport, action: Action[T], args: Mapping[str, Any]
    ) -> EventStream[T]:
        """The stream of a generated SSE action, with its arguments."""
        from ._encoding import encode_action

        request = encode_action(action, args, transport.accept_version)
        keepalive = float(args.get("keep_alive_interval") or 2)
        timeout = args.get("timeout")
        connect = timeout.connect if isinstance(timeout, Timeout) else None
        return cls(
            transport,
            request.path,
            request.query,
            models=action.events or {},
            headers={k: v for k, v in request.headers.items() if k == "losantdomain"},
            idle_timeout=3 * keepalive,
            connect_timeout=connect if connect is not None else transport.timeout.connect,
        )

    @classmethod
    def for_path(
        cls,
        transport: Transport,
        path: str,
        params: Mapping[str, Any],
        idle_timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> EventStream[ServerSentEvent]:
        """A stream of raw events from any SSE path of the API."""
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        return EventStream[ServerSentEvent](
            transport,
            path,
            encode_params(params),
            models=None,
            idle_timeout=idle_timeout,
            connect_timeout=transport.timeout.connect,
            headers=headers,
        )

    # -- lifetime --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._interruptible(self._connect)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection now; iteration ends, at once even in a reconnect's wait."""
        self._closed = True
        self._drop_connection()
        if self._scope is not None:
            self._scope.cancel()

    def _drop_connection(self) -> None:
        if self._response is not None:
            # close(), not release(): the connection must not go back to the pool mid-stream.
            self._response.close()
            self._response = None

    @property
    def last_event_id(self) -> str:
        return self._decoder.last_event_id

    @property
    def max_event_size(self) -> int | None:
        """See the class docstring."""
        return self._decoder.max_event_size

    @max_event_size.setter
    def max_event_size(self, value: int | None) -> None:
        self._decoder.max_event_size = value

    # -- iteration -------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while True:
            if self._pending:
                return self._deliver(self._pending.popleft())
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._closed:
                raise StopAsyncIteration
            if self._response is None:
                await self._interruptible(self._reconnect)
                continue
            try:
                with anyio.fail_after(self.idle_timeout):
                    chunk = await self._response.content.readany()
            except TimeoutError:
                logger.debug("stream %s: silent too long, reconnecting", self.path)
                self._lost()
                continue
            except (aiohttp.ClientError, OSError) as exc:
                logger.debug("stream %s: %s, reconnecting", self.path, type(exc).__name__)
                self._lost()
                continue
            if not chunk:
                logger.debug("stream %s: server closed the stream, reconnecting", self.path)
                self._lost()
                continue
            try:
                events = self._decoder.feed(chunk)
            except EventTooLarge as exc:
                # Raised only after the events that preceded it in this chunk: raising at
                # once would end an ``async for`` with them undelivered.
                self._pending.extend(e for e in exc.events if self._wanted(e))
                self._drop_connection()
                self._closed = True
                self._error = StreamError(f"stream {self.path}: {exc}")
                continue
            self._pending.extend(e for e in events if self._wanted(e))
            if events:
                self._failures = 0

    def _wanted(self, event: ServerSentEvent) -> bool:
        return self._models is None or event.event in self._models

    def _deliver(self, event: ServerSentEvent) -> T:
        self.stats.events += 1
        self.stats.last_event_time = time.time()
        self.stats.last_event_id = event.id
        if self._models is None:
            return cast(T, event)
        decoder = self._decoders.get(event.event)
        if decoder is None:
            from . import models

            model = getattr(models, self._models[event.event])
            decoder = self._decoders[event.event] = msgspec.json.Decoder(model)
        try:
            return cast(T, decoder.decode(event.data))
        except msgspec.DecodeError as exc:
            raise DecodeError(
                f"{event.event} event does not fit its model: {exc}",
                status=200,
                method="GET",
                path=self.path,
                body=event.data.encode(),
            ) from None

    # -- connecting ------------------------------------------------------------------

    def _lost(self) -> None:
        self._drop_connection()
        self._decoder.close()  # an unterminated event is dropped, as the standard says

    async def _interruptible(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` (a wait and connect) so that ``aclose()`` can cut it short."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._closed:
                scope.cancel()
            try:
                await step()
            finally:
                self._scope = None
        if self._closed:
            # A connection may have opened as aclose() ran: it must not outlive the stream.
            self._drop_connection()

    async def _reconnect(self) -> None:
        self._count_reconnect("gave up")
        await anyio.sleep(self._backoff())
        await self._connect()

    def _count_reconnect(self, what: str, failure: Exception | None = None) -> None:
        """Count one more reconnect, or end the stream once ``max_reconnects`` are spent."""
        if self.max_reconnects is None or self.stats.reconnects < self.max_reconnects:
            self.stats.reconnects += 1
            return
        self._closed = True
        message = f"stream {self.path}: {what} after {self.stats.reconnects} reconnects"
        if failure is not None:
            message += f"; last failure: {describe_failure(failure)}"
        # Only our own errors are chained: aiohttp's may hold the token.
        raise StreamError(message) from (failure if isinstance(failure, LosantError) else None)

    def _backoff(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt, in seconds (see the class docstring)."""
        server_retry = self._decoder.retry
        base, cap = self.backoff_base, self.backoff_max
        if server_retry is not None:
            base = server_retry / 1000
        if server_retry is not None or retry_after is not None:
            base = max(base, _MIN_SERVER_RETRY)
            cap = max(cap, _MIN_SERVER_RETRY)
        ceiling = min(cap, base * (2 ** min(self._failures, 30)))
        self._failures += 1
        # Half of the range is jitter; the other half keeps the floor and the growth real.
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_max))
        logger.debug("stream %s: next attempt in %.3f s", self.path, wait)
        return wait

    async def _connect(self) -> None:
        """Open a connection, retrying transient failures; fatal statuses raise.

        Returns without a connection once the stream is closed: ``aclose()`` from another
        task must stop the retries and must not leave a connection opened after it.
        """
        while not self._closed:
            session = await self._transport.session()
            headers = self._transport.headers(accept="text/event-stream")
            headers["Cache-Control"] = "no-cache"
            headers.update(self._headers)
            if self._decoder.last_event_id:
                headers["Last-Event-ID"] = self._decoder.last_event_id
            url = self._transport.base_url + self.path + (f"?{self._query}" if self._query else "")
            # sock_read also bounds the wait for the response headers, which the watchdog
            # in __anext__ does not cover: a server that accepts and never answers would
            # otherwise hold a connect (or reconnect) forever.
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self._connect_timeout, sock_read=self.idle_timeout
            )
            retry_after: float | None = None
            failure: Exception
            try:
                response = await session.get(url, headers=headers, timeout=timeout)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                logger.debug("stream %s: connect failed: %s", self.path, type(exc).__name__)
                failure = exc
            else:
                if self._closed:
                    response.close()
                    return
                if response.status == 200 and response.content_type != "text/event-stream":
                    # As EventSource does: a 200 that is not an event stream (a login
                    # page, a proxy's notice) fails the stream rather than looping.
                    self._closed = True
                    body = await _read_quietly(response, limit=1 << 16)
                    raise DecodeError(
                        f"expected text/event-stream, got {response.content_type!r}",
                        status=200, method="GET", path=self.path, body=body,
                    )  # fmt: skip
                if response.status < 400 and response.status != 200:
                    # As EventSource does: only a 200 opens a stream. 204 is the server
                    # saying "stop"; 304, another 2xx or a redirect not followed will not
                    # change by asking again.
                    await self._refuse(response)
                if response.status == 200:
                    self._decoder.reset()
                    self._response = response
                    self.stats.connects += 1
                    logger.debug("stream %s: connected", self.path)
                    return
                body = await _read_quietly(response)
                error: APIError = error_for_status(
                    response.status, method="GET", path=self.path, body=body,
                    headers=dict(response.headers),
                )  # fmt: skip
                if _fatal(response.status):
                    self._closed = True
                    raise error
                if error.retry_after is not None:
                    retry_after = parse_retry_after(error.retry_after)
                logger.debug("stream %s: status %d, retrying", self.path, response.status)
                failure = error
            self._count_reconnect("cannot connect", failure)
            await anyio.sleep(self._backoff(retry_after))

    async def _refuse(self, response: aiohttp.ClientResponse) -> NoReturn:
        self._closed = True
        body = await _read_quietly(response, limit=1 << 16)
        answer = error_for_status(
            response.status, method="GET", path=self.path, body=body,
            headers=dict(response.headers),
        )  # fmt: skip
        raise StreamError(
            f"stream {self.path}: the server answered {response.status} {response.reason}"
            " where only 200 opens an event stream"
        ) from answer


async def _read_quietly(response: aiohttp.ClientResponse, limit: int = -1) -> bytes:
    try:
        return await response.content.read(limit)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return b""
    finally:
        response.release()
