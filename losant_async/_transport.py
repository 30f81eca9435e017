"""The session core: one call = encode -> limit -> send -> retry -> decode.

Generated resources hand each call here as an :class:`~._action.Action` and the
coroutine's arguments; everything dynamic about a call lives in this module.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
import weakref
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import msgspec

from ._action import Action
from ._decode import decode_leniently
from ._encoding import EncodedRequest, encode_action, encode_params
from ._limits import ConcurrencyLimiter, RateLimit, TokenBucket
from ._models import model_type
from ._retry import RetryPolicy, parse_retry_after
from ._types import Timeout, TimeoutArg
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    DecodeError,
    LosantError,
    error_for_status,
)

if TYPE_CHECKING:
    from ._observer import Attempt, Observer  # hooks

T = TypeVar("T")

logger = logging.getLogger("losant_async")

USER_AGENT = (
    f"losant_async/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)


def describe_failure(exc: BaseException) -> str:
    """A failure in words that cannot hold the request's headers (and so the token):
    an aiohttp ClientResponseError's repr carries them."""
    if isinstance(exc, LosantError):
        return str(exc)
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class Secret:
    """The API token. Only this object's repr, which hides it, shows in a traceback's frame
    locals (``capture_locals``, ``pytest --showlocals``, error trackers); a frame that held
    the token as a ``str`` would print it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<Secret>"

    def check(self) -> None:
        """Refuse what cannot go into a header (the message must not quote it)."""
        if not isinstance(self._value, str):
            raise TypeError(f"the API token must be a str, not {type(self._value).__name__}")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in self._value):
            raise ValueError("the API token contains control characters")

    def __bool__(self) -> bool:
        return bool(self._value)

    def bearer(self) -> str:
        return f"Bearer {self._value}"


def check_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, or a ValueError naming what is wrong (but
    not quoting the URL, which may hold credentials)."""
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - parsing the port is what checks it
    except ValueError as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not base_url.startswith(parts.scheme + "://"):
        raise ValueError("base_url must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("base_url has no host")
    if parts.username is not None or parts.password is not None:
        # aiohttp would send them as Basic auth, clashing with the token.
        raise ValueError("base_url must not hold credentials")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ValueError("base_url must not have a query or fragment")
    return base_url.rstrip("/")


class _Dropped(aiohttp.ClientConnectionError):
    """A connection lost mid-request, under a type aiohttp does not re-send on."""


class _Exchange:
    """A per-request aiohttp middleware: tells whether the request may have reached the
    server, and stops aiohttp's own re-send of an idempotent request on a lost connection
    (our retry policy alone decides how often a request is sent)."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(
        self, req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        try:
            return await handler(req)
        except aiohttp.ClientConnectorError:
            raise  # never sent, and aiohttp does not re-send these anyway
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
            raise _Dropped(describe_failure(exc)) from None
        finally:
            # ``response`` is set once the request was handed to the connection; a
            # timeout or error before that (while connecting) left nothing on the wire.
            self.sent = self.sent or req.response is not None


async def _closing_with_loop(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Closes ``session`` when closed: by aclose(), or by the event loop as it shuts down
    (asyncio.run and anyio.run close every async generator still open), so a client that
    outlives its loop leaves no session, connector or socket of that loop behind."""
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


class Response(msgspec.Struct, frozen=True):
    """A finished attempt: status, headers (aiohttp's, case-insensitive) and the whole
    body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport:
    """Owns the pooled session, auth, limits and the retry loop of one client."""

    def __init__(
        self,
        *,
        token: Secret | None,
        base_url: str,
        timeout: Timeout,
        retry: RetryPolicy,
        rate_limit: RateLimit | None,
        max_concurrency: int,
        accept_version: str,
        session: aiohttp.ClientSession | None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if session is not None and token and getattr(session, "auth", None) is not None:
            raise ValueError("the session passed in has auth= set, which clashes with the token")
        self._token = token
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout.total, connect=timeout.connect)
        self.retry = retry
        self.accept_version = accept_version
        self.max_concurrency = max_concurrency
        self.bucket = (
            TokenBucket(rate_limit, sleep=self._bucket_sleep) if rate_limit is not None else None
        )
        self._session = session
        self._owns_session = session is None
        # A caller's session keeps its own middlewares; ours is added to each request.
        self._middlewares: tuple[aiohttp.ClientMiddlewareType, ...] = tuple(
            getattr(session, "_middlewares", None) or ()
        )
        self._keeper: AsyncGenerator[None, None] | None = None
        self._limiter: ConcurrencyLimiter | None = None
        # aiohttp's form of each distinct per-call timeout, built once.
        self._timeouts: dict[object, aiohttp.ClientTimeout] = {}
        self._closing: asyncio.Event | None = None
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.retries = 0  # retries this client has made, for counters such as a scrape's
        # Open stream responses: closed by aclose(), as a caller's session outlives it.
        self._streams: weakref.WeakSet[aiohttp.ClientResponse] = weakref.WeakSet()
        self.observer: Observer | None = None  # hooks: the client's hooks and tracing

    # -- lifetime -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def session(self) -> aiohttp.ClientSession:
        """The pooled session, created on first use (it needs a running loop)."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                if not self._owns_session:
                    raise RuntimeError(
                        "the aiohttp session passed in belongs to another event loop"
                    )
                # A client reused under a new event loop (asyncio.run twice, a loop per
                # test): the old loop closed its session as it shut down (see
                # _closing_with_loop); its limiter, lock and event cannot serve this one.
                self._session = None
                self._keeper = None
                self._limiter = None
                self._closing = None
                if self.bucket is not None:
                    self.bucket.rebind()
            self._loop = loop
        if self._session is None:
            # No connection cap here: calls are capped by the concurrency limiter, and
            # long-lived streams must not starve them of connections. The headers every
            # request carries are the session's, so no frame of ours holds the token.
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                headers=self.headers(),
            )
            keeper = _closing_with_loop(session)
            await keeper.__anext__()  # now the loop knows it, and closes it at shutdown
            self._session, self._keeper = session, keeper
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        keeper, self._keeper = self._keeper, None
        self._session = None
        if self._loop is not asyncio.get_running_loop():
            return  # the loop that owned them closed them as it shut down
        if self._closing is not None:
            self._closing.set()  # wakes retry and rate-limit waits at once
        for response in list(self._streams):
            response.close()
        if keeper is not None:
            await keeper.aclose()

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; False, at once, if the client is or gets closed."""
        if self._closed:
            return False
        if self._closing is None:
            self._closing = asyncio.Event()
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return True
        return False

    async def _bucket_sleep(self, seconds: float) -> None:
        if not await self._wait(seconds):
            raise ClientClosedError("the client is closed")

    def _closed_error(self, request: EncodedRequest, *, sent: bool) -> ClientClosedError:
        return ClientClosedError(
            "the client is closed", method=request.method, path=request.path, sent=sent
        )

    # -- headers and timeouts -------------------------------------------------------

    def headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {
            "Accept": accept,
            "Accept-Version": self.accept_version,
            "User-Agent": USER_AGENT,
        }
        if self._token:
            headers["Authorization"] = self._token.bearer()
        return headers

    def _request_headers(self, request: EncodedRequest) -> dict[str, str]:
        """All headers of a request, for a session passed in (ours has them as defaults)."""
        return {**self.headers(), **request.headers}

    def _send_headers(self, request: EncodedRequest) -> Mapping[str, str] | None:
        """The headers to hand aiohttp for ``request``: only what the session's defaults
        do not already say."""
        if not self._owns_session:
            return self._request_headers(request)
        headers = request.headers
        if len(headers) == 1 and headers.get("Accept-Version") == self.accept_version:
            return None
        return headers

    def client_timeout(self, override: TimeoutArg) -> aiohttp.ClientTimeout:
        if override is None:
            return self._client_timeout
        # Exact types only: True == 1 must not find the entry of 1 second.
        kind = type(override)
        key = float(override) if kind is int or kind is float else override  # type: ignore[arg-type]
        cached = self._timeouts.get(key) if kind in (int, float, Timeout) else None
        if cached is not None:
            return cached
        if isinstance(override, Timeout):
            t = override
        elif isinstance(override, int | float) and not isinstance(override, bool):
            t = Timeout(total=float(override), connect=self.timeout.connect)
        else:
            raise TypeError("timeout takes seconds, a Timeout or None")
        cached = aiohttp.ClientTimeout(total=t.total, connect=t.connect)
        if kind in (int, float, Timeout):
            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            self._timeouts[key] = cached
        return cached

    # -- calls ----------------------------------------------------------------------

    async def call(self, action: Action[T], args: Mapping[str, Any]) -> T:
        """Run one generated action with its coroutine's arguments."""
        request = encode_action(action, args, self.accept_version)
        response = await self.send(request, self.client_timeout(args.get("timeout")), action)
        return self._decode_model(action, request, response)  # type: ignore[no-any-return]

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        timeout: TimeoutArg,
    ) -> Any:
        """Send any request through the same limits, retries and errors (the arguments of
        :meth:`LosantClient.request`, whose signature holds the defaults)."""
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        if "#" in path:
            raise ValueError("path must not have a fragment ('#')")
        # A query written into the path comes first, then ``params``.
        path, _, query = path.partition("?")
        query = "&".join(q for q in (query, encode_params(params)) if q)
        extra = {"Accept-Version": self.accept_version, **(headers or {})}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else msgspec.json.encode(body)
            extra.setdefault("Content-Type", "application/json")
        request = EncodedRequest(method.upper(), path, query, extra, data)
        response = await self.send(request, self.client_timeout(timeout))
        if not response.body:
            return None
        try:
            return msgspec.json.decode(response.body)
        except msgspec.DecodeError as exc:
            raise DecodeError(
                str(exc),
                status=response.status,
                method=request.method,
                path=request.path,
                body=response.body,
            ) from None

    async def send(
        self,
        request: EncodedRequest,
        timeout: aiohttp.ClientTimeout,
        action: Action[Any] | None = None,
    ) -> Response:
        """Send with retries; a 2xx :class:`Response` or a :class:`LosantError`.
        ``action`` names the call to hooks and spans (None for a raw request)."""
        policy = self.retry
        obs = self.observer  # hooks
        att: Attempt | None = None  # hooks
        attempt = 0
        sent = False
        data: Any = request.body
        while True:
            # Checked per attempt: a disabled log costs neither formatting nor the clock.
            debug = logger.isEnabledFor(logging.DEBUG)
            started = time.monotonic() if debug else 0.0
            # One attempt, written out here rather than in a coroutine of its own: every
            # resumption of a call passes through one frame fewer.
            if self._closed:
                raise self._closed_error(request, sent=False)
            session = self._session
            if session is None or self._loop is not asyncio.get_running_loop():
                session = await self.session()  # first: a new event loop resets the limits
            limiter = self._limiter
            if limiter is None:
                limiter = self._limiter = ConcurrencyLimiter(self.max_concurrency)
            if request.multipart is not None:
                data = self._form(request.multipart)  # a form is consumed by sending it
            exchange = _Exchange()
            answered = False
            chunks: list[bytes] = []
            failed: type[APIConnectionError] = APIConnectionError
            what = ""
            response: Response | None = None
            # The slot first, then the rate-limit token: tokens taken while queued for a
            # slot would all be spent at once when a slow call frees it.
            if not limiter.try_acquire():
                await limiter.acquire()
            try:
                if self.bucket is not None:
                    try:
                        await self.bucket.acquire()
                    except ClientClosedError:
                        raise self._closed_error(request, sent=False) from None
                if self._closed:
                    raise self._closed_error(request, sent=False)
                if obs is not None:  # hooks: attempt start
                    url = self.base_url + request.target
                    att = obs.start(action, request.method, request.path, url, attempt + 1)
                try:
                    # Our error handling must not depend on how a caller's session is set
                    # up: statuses are ours to judge, and bodies are always decompressed.
                    async with session.request(
                        request.method,
                        self.base_url + request.target,
                        # Not a local: a caller's session gets the token among these.
                        headers=self._send_headers(request),
                        data=data,
                        timeout=timeout,
                        middlewares=(exchange, *self._middlewares),
                        raise_for_status=False,
                        auto_decompress=True,
                    ) as resp:
                        answered = True
                        # Chunk by chunk, so that a body cut short keeps what arrived.
                        content = resp.content
                        while chunk := await content.readany():
                            chunks.append(chunk)
                        if resp.status == 429 and self.bucket is not None:
                            # Inside the slot, so that no caller queued for it sends first.
                            self._throttle(resp.headers.get("Retry-After"))
                        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                        response = Response(resp.status, resp.headers, body)
                except aiohttp.ConnectionTimeoutError:
                    failed, what = APITimeoutError, "connect timeout"
                except aiohttp.ClientConnectorError as exc:
                    what = f"cannot connect: {exc.os_error}"
                except TimeoutError:
                    failed = APITimeoutError
                    what = "timed out" if exchange.sent else "timed out before sending"
                except aiohttp.ClientError as exc:
                    # Once headers arrived the body was cut short; before, the request
                    # may or may not have reached the server.
                    what = "response truncated" if answered else "connection lost"
                    detail = str(exc) if isinstance(exc, _Dropped) else describe_failure(exc)
                    what = f"{what}: {detail}"
                except RuntimeError:
                    if not self._closed:  # aiohttp's "Session is closed", after aclose()
                        raise
            except BaseException as exc:
                if obs is not None:  # hooks: attempt end, cancelled (or closed while queued)
                    obs.end(att, None, exc)
                raise
            finally:
                limiter.release()
            # Judged here, outside the handlers, so that no aiohttp error rides along as
            # __context__ of what is raised: some hold the request headers, and so the token.
            error: APIError | APIConnectionError
            retry_after: str | None = None
            if response is None:
                if self._closed:
                    closed = self._closed_error(request, sent=exchange.sent)
                    if obs is not None:  # hooks: attempt end, closed in flight
                        obs.end(att, None, closed)
                    raise closed
                error = failed(
                    what,
                    method=request.method,
                    path=request.path,
                    sent=exchange.sent,
                    partial=b"".join(chunks),
                )
                if debug:
                    logger.debug(
                        "%s %s failed: %s (attempt %d, %.3fs)",
                        request.method,
                        request.path,
                        type(error).__name__,
                        attempt + 1,
                        time.monotonic() - started,
                    )
                sent = sent or error.sent
                retryable = policy.retryable_error(request.method, sent=error.sent)
            else:
                if debug:
                    logger.debug(
                        "%s %s -> %d (attempt %d, %.3fs)",
                        request.method,
                        request.path,
                        response.status,
                        attempt + 1,
                        time.monotonic() - started,
                    )
                if response.status < 300:
                    if policy.budget is not None:
                        policy.budget.success()
                    if self.bucket is not None:
                        self.bucket.succeeded()
                    if obs is not None:  # hooks: attempt end, success
                        obs.end(att, response.status, None)
                    return response
                error = error_for_status(
                    response.status,
                    method=request.method,
                    path=request.path,
                    body=response.body,
                    headers=dict(response.headers),
                )
                sent = True
                retry_after = error.retry_after
                retryable = policy.retryable_status(request.method, response.status)
            if obs is not None:  # hooks: attempt end, failure
                obs.end(att, None if response is None else response.status, error)
            if not retryable or attempt >= policy.max_retries:
                raise error
            if policy.budget is not None and not policy.budget.try_spend():
                logger.debug("%s %s: retry budget exhausted", request.method, request.path)
                raise error
            self.retries += 1
            delay = policy.delay(attempt, retry_after)
            logger.debug("%s %s: retrying in %.3fs", request.method, request.path, delay)
            if obs is not None and att is not None:  # hooks: retry decision
                obs.retry(att, None if response is None else response.status, error, delay)
            if not await self._wait(delay):
                raise self._closed_error(request, sent=sent)
            attempt += 1

    @staticmethod
    def _form(fields: list[tuple[str, bytes | str, str | None]]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value, filename in fields:
            if filename is None:
                form.add_field(name, value)
            else:
                form.add_field(name, value, filename=filename)
        return form

    async def open_stream(
        self, target: str, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """Send a GET whose body the caller reads as it arrives and closes: with the
        client's auth and the per-request settings of a call, and sent once (the caller's
        reconnects decide how often). aiohttp's errors pass through."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        session = await self.session()
        response = await session.get(
            self.base_url + target,
            # Built here, so that no frame of ours holds the token.
            headers=headers if self._owns_session else {**self.headers(), **headers},
            timeout=timeout,
            middlewares=(_Exchange(), *self._middlewares),
            raise_for_status=False,
            auto_decompress=True,
        )
        self._streams.add(response)
        return response

    def _throttle(self, retry_after: str | None) -> None:
        assert self.bucket is not None
        pause = parse_retry_after(retry_after) if retry_after else None
        # Capped like the retry's own wait: one 429 must not stall the client.
        self.bucket.throttled(min(pause, self.retry.retry_after_max) if pause is not None else None)

    # -- decoding -------------------------------------------------------------------

    def decoder(self, model: str) -> msgspec.json.Decoder[Any]:
        """A cached typed decoder for a model name (loads the models on first use)."""
        dec = self._decoders.get(model)
        if dec is None:
            dec = self._decoders[model] = msgspec.json.Decoder(model_type(model))
        return dec

    def _decode_model(
        self, action: Action[Any], request: EncodedRequest, response: Response
    ) -> Any:
        if response.status in action.responses:
            model = action.responses[response.status]
        else:
            model = next((m for m in action.responses.values() if m), None)
        if model is None or (not response.body and response.status == 204):
            return None
        try:
            return self.decoder(model).decode(response.body)
        except (msgspec.DecodeError, RecursionError) as exc:
            return decode_leniently(self.decoder(model), response.body, exc, what="body",
                status=response.status, method=request.method, path=request.path)  # fmt: skip
