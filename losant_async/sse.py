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
import operator
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
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
        self._decoders: dict[str, Callable[[str], Any]] = {}
        self._response: aiohttp.ClientResponse | None = None
        # The batch being delivered: its items, and the events they came from.
        self._ready: Iterator[T] = iter(())
        self._batch_items: list[Any] = []
        self._batch_events: list[ServerSentEvent] = []
        self._batch_time: float | None = None  # time.time() when its chunk arrived
        # The events delivered from earlier batches, and the id and time of the last one.
        self._events_before = 0
        self._last_before: tuple[str, float | None] = ("", None)
        self._reconnects = 0
        self._connects = 0
        self._error: LosantError | None = None  # raised once the batch is delivered
        self._end_error: LosantError | None = None  # raised once all else is delivered
        self._backlog: list[ServerSentEvent] = []  # after an event that did not decode
        self._backlog_time = 0.0
        self._failures = 0  # consecutive connections that delivered nothing
        self._closed = False
        # Scope of the iterating task's reconnect (backoff wait and connect): aclose()
        # from another task cancels it, so that closing does not wait for either.
        self._scope: anyio.CancelScope | None = None

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
    #
    # Each chunk read is decoded at once, its events to their models in one pass, and the
    # items wait in ``_ready`` (an iterator over ``_batch``). ``async for`` runs an async
    # generator that yields from it, so an event costs no coroutine and no Python call of
    # its own; counters are kept per batch and ``stats`` works out the rest when asked.

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        # A fresh generator per ``async for``: one ended by an error (a DecodeError, say)
        # leaves the stream, whose state is all in ``self``, usable by the next.
        while True:
            ready = self._ready
            for item in ready:
                yield item
            # A direct __anext__() may have started a new batch while this one waited.
            if ready is self._ready and not await self._fill():
                return

    async def __anext__(self) -> T:
        while True:
            for item in self._ready:
                return item
            if not await self._fill():
                raise StopAsyncIteration

    async def _fill(self) -> bool:
        """Read until a batch of items is ready (True) or the stream is over (False)."""
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._backlog:  # the events after one that failed to decode
                events, self._backlog = self._backlog, []
                if self._take(events, self._backlog_time):
                    return True
                continue
            if self._closed:
                if self._end_error is not None:
                    error, self._end_error = self._end_error, None
                    raise error
                return False
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
                self._drop_connection()
                self._closed = True
                self._end_error = StreamError(f"stream {self.path}: {exc}")
                if self._take(exc.events, time.time()):
                    return True
                continue
            if events:
                self._failures = 0
                if self._take(events, time.time()):
                    return True

    def _take(self, events: list[ServerSentEvent], received: float) -> bool:
        """Make the caller's items of one run of events the next batch; False if none."""
        items: list[Any]
        if self._models is None:
            items = cast(list[Any], events)
        else:
            try:
                items = self._deliver(events)
            except msgspec.DecodeError:
                items, events = self._deliver_until_failure(events, received)
        if not items:
            return self._error is not None  # if so, _fill() raises it next
        # Fold the batch that ran out into the counters before replacing it.
        if self._batch_items:
            self._events_before += len(self._batch_items)
            self._last_before = (self._nth_id(-1), self._batch_time)
        self._batch_items = items
        self._batch_events = events
        self._batch_time = received
        self._ready = iter(items)
        return True

    def _deliver(self, events: list[ServerSentEvent]) -> list[Any]:
        """The one place where events' data become their models: the events of the
        action's types in a run, all at once; any other type is left out."""
        decoders = self._decoders or self._load_decoders()
        return [decode(e.data) for e in events if (decode := decoders.get(e.event))]

    def _deliver_until_failure(
        self, events: list[ServerSentEvent], received: float
    ) -> tuple[list[Any], list[ServerSentEvent]]:
        # Rare: find the event that does not fit. Those before it are delivered, then its
        # DecodeError, then the rest, so that one bad event costs no other.
        for index, event in enumerate(events):
            try:
                self._deliver([event])
            except msgspec.DecodeError as exc:
                self._error = DecodeError(
                    f"{event.event} event does not fit its model: {exc}",
                    status=200, method="GET", path=self.path, body=event.data.encode(),
                )  # fmt: skip
                self._backlog = events[index + 1 :]
                self._backlog_time = received
                return self._deliver(events[:index]), events[:index]
        raise AssertionError("a run failed to decode, but none of its events")

    def _load_decoders(self) -> dict[str, Callable[[str], Any]]:
        from . import models

        assert self._models is not None
        self._decoders = {
            name: msgspec.json.Decoder(getattr(models, model)).decode
            for name, model in self._models.items()
        }
        return self._decoders

    def _nth_id(self, n: int) -> str:
        """The id of the ``n``-th event (from 1; -1: the last) of the batch that reached
        the caller."""
        models = self._models
        events = self._batch_events
        if models is None:
            return events[n - 1 if n > 0 else n].id
        if n < 0:
            return next(e.id for e in reversed(events) if e.event in models)
        return [e for e in events if e.event in models][n - 1].id

    @property
    def stats(self) -> StreamStats:
        """Counters for operators, as of now (a snapshot); see :class:`StreamStats`."""
        delivered = len(self._batch_items) - operator.length_hint(self._ready)
        last_id, last_time = self._last_before
        if delivered:
            last_id, last_time = self._nth_id(delivered), self._batch_time
        return StreamStats(
            events=self._events_before + delivered,
            reconnects=self._reconnects,
            connects=self._connects,
            last_event_time=last_time,
            last_event_id=last_id,
        )

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
        if self.max_reconnects is None or self._reconnects < self.max_reconnects:
            self._reconnects += 1
            return
        self._closed = True
        message = f"stream {self.path}: {what} after {self._reconnects} reconnects"
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
                    self._connects += 1
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
