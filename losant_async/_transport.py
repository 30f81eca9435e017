"""The session core, one pipeline: build a request, then send it.

Generated resources hand each call here as an :class:`~._action.Action` and the
coroutine's arguments; :meth:`Transport.build` turns a request's parts into a
:class:`Request` (URL, headers, timeout), and :meth:`Transport.send` sends it: limits,
retries and the status-to-error mapping for calls, and a single attempt returning the open
response for streams (whose reconnects decide how often to try).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import platform
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    MutableMapping,
)
from dataclasses import dataclass, field
from threading import get_ident
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar, overload
from urllib.parse import urlsplit

import aiohttp
import msgspec

from ._action import Action
from ._decode import decode_leniently
from ._encoding import EncodedRequest, encode_params, encoder_for
from ._limits import ConcurrencyLimiter, RateLimit, TokenBucket
from ._models import model_type
from ._retry import BudgetState, RetryPolicy, parse_retry_after
from ._types import NOT_GIVEN, NotGiven, Timeout, TimeoutArg, resolve_timeout
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


TokenProvider: TypeAlias = "Callable[[], str | Awaitable[str]]"
"""A function, sync or async, returning the API token: asked on first use, again after a
401 and before each stream reconnect."""


async def _provided(value: str | Awaitable[str]) -> str:
    # The token passes from the provider into a Secret without a frame of ours holding it
    # once this one has returned.
    token = await value if inspect.isawaitable(value) else value
    # A token read from a file often ends in a newline.
    return token.strip() if isinstance(token, str) else token


class _Auth:
    """The token of the clients on one pool: a :class:`Secret`, or a provider asked for a
    fresh one (``generation`` counts the tokens it gave)."""

    __slots__ = ("generation", "lock", "provider", "secret")

    def __init__(self, token: Secret | TokenProvider | None) -> None:
        self.secret = token if isinstance(token, Secret) or token is None else None
        self.provider = None if isinstance(token, Secret) or token is None else token
        self.generation = 0
        self.lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return "<Auth>"


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


_REQREP = aiohttp.ClientResponse.start.__code__.co_filename


def _written(exc: BaseException) -> bool:
    """Whether a request that failed with ``exc`` had been written: aiohttp waits for the
    answer in ``ClientResponse.start`` once the request is on the wire, so the failure (or
    the cancellation behind a total timeout, its cause) passed through that frame."""
    for failure in (exc, exc.__cause__):
        tb = failure.__traceback__ if failure is not None else None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name == "start" and code.co_filename == _REQREP:
                return True
            tb = tb.tb_next
    return False


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


@dataclass(frozen=True, slots=True)
class RawResponse(Generic[T]):
    """A call's answer as it arrived (``client.with_raw_response``): its ``status``,
    ``headers`` (case-insensitive), ``content`` (the body's bytes), ``elapsed`` (seconds
    from the first attempt's start to the answer, waits between retries included) and
    ``attempts`` (1 when the first attempt was answered); :meth:`parse` gives the typed
    model the call returns otherwise."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float
    attempts: int
    _parse: Callable[[], T] = field(repr=False, compare=False)

    def parse(self) -> T:
        """The body decoded as the call returns it (a model, or None without a body)."""
        return self._parse()


class Request(msgspec.Struct):
    """A request built once (:meth:`Transport.build`) and sent, and re-sent on retries, as
    is: the method, the path (for errors and logs), the whole URL, the headers of this
    request alone (the client's own are the session's), the body and aiohttp's timeout."""

    method: str
    path: str
    url: str
    headers: Mapping[str, str] | None
    body: bytes | None
    multipart: list[tuple[str, bytes | str, str | None]] | None
    timeout: aiohttp.ClientTimeout

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def _checked_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A client's ``default_headers``, checked before any request."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("default_headers takes str names and values")
        if name.lower() == "authorization":
            raise ValueError("default_headers must not set Authorization: pass token= instead")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value) or not name:
            raise ValueError(f"default header {name!r} has control characters or no name")
        checked[name] = value
    return checked


def _default_query(params: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A client's ``default_query``, encoded once: (name as sent, ``name=value`` pairs)."""
    found: dict[str, list[str]] = {}
    for pair in encode_params(params).split("&") if params else ():
        found.setdefault(_query_name(pair), []).append(pair)
    return tuple((name, "&".join(pairs)) for name, pairs in found.items())


def _query_name(pair: str) -> str:
    """The parameter a ``name=value`` pair of an encoded query belongs to (``a%5B0%5D``,
    an item of array ``a``, belongs to ``a``)."""
    return pair.partition("=")[0].partition("%5B")[0]


def _merge_query(query: str, defaults: tuple[tuple[str, str], ...]) -> str:
    """``query`` with the client's default parameters it does not set itself."""
    given = {_query_name(pair) for pair in query.split("&")} if query else set()
    extra = [pairs for name, pairs in defaults if name not in given]
    return "&".join([query, *extra] if query else extra)


class _Pool:
    """What a client shares with its copies (:meth:`LosantClient.with_options`): the
    session and its connections, the event loop it belongs to, the concurrency limiter,
    the open streams and the decoders. Closed with the client that made it."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        max_concurrency: int,
        headers: dict[str, str],
        auth: _Auth,
    ) -> None:
        self.auth = auth
        self.session = session
        self.owns_session = session is None
        self.max_concurrency = max_concurrency
        # The headers every request carries: our session's defaults, so that no frame of
        # ours holds the token; a caller's session gets them per request.
        self.headers = headers
        # A caller's session keeps its own middlewares; ours is added to each request.
        self.middlewares: tuple[aiohttp.ClientMiddlewareType, ...] = tuple(
            getattr(session, "_middlewares", None) or ()
        )
        # True once our own session re-sends nothing by itself (then no request needs
        # the _Exchange middleware).
        self.bare = False
        self.keeper: AsyncGenerator[None, None] | None = None
        self.limiter: ConcurrencyLimiter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        # Open stream responses: closed by aclose(), as a caller's session outlives it.
        self.streams: weakref.WeakSet[aiohttp.ClientResponse] = weakref.WeakSet()
        # Every client on this pool, woken by its closing.
        self.clients: weakref.WeakSet[Transport] = weakref.WeakSet()

    async def open(self) -> aiohttp.ClientSession:
        """The session, created on first use (it needs a running loop)."""
        if self.closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self.loop is not None:
                if not self.owns_session:
                    raise RuntimeError(
                        "the aiohttp session passed in belongs to another event loop"
                    )
                # A client reused under a new event loop (asyncio.run twice, a loop per
                # test): the old loop closed its session as it shut down (see
                # _closing_with_loop); its limiter cannot serve this one.
                self.session = None
                self.keeper = None
                self.limiter = None
            self.loop = loop
            if self.auth.lock is not None:
                self.auth.lock = None  # a lock serves one loop
        if self.auth.provider is not None and not self.auth.generation:
            await self.authenticate(0)  # the provider's first token
        if self.session is None:
            # No connection cap here: calls are capped by the concurrency limiter, and
            # long-lived streams must not starve them of connections.
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                headers=self.headers,
            )
            # Our retry policy alone decides how often a request is sent: aiohttp's own
            # re-send of an idempotent request on a lost pooled connection is turned off
            # for the whole session (aiohttp's own test client does the same), which spares
            # every request a middleware; without that switch, the middleware does it.
            self.bare = hasattr(session, "_retry_connection")
            if self.bare:
                session._retry_connection = False
            keeper = _closing_with_loop(session)
            await keeper.__anext__()  # now the loop knows it, and closes it at shutdown
            self.session, self.keeper = session, keeper
        if self.limiter is None:
            self.limiter = ConcurrencyLimiter(self.max_concurrency)
        return self.session

    async def authenticate(self, seen: int) -> None:
        """Ask the provider for a token, unless one newer than generation ``seen`` came
        while waiting (concurrent 401s ask once)."""
        auth = self.auth
        if auth.provider is None:
            return
        if auth.lock is None:
            auth.lock = asyncio.Lock()
        async with auth.lock:
            if auth.generation != seen:
                return
            secret = Secret(await _provided(auth.provider()))
            secret.check()
            auth.secret, auth.generation = secret, seen + 1
            self._apply(secret)

    def _apply(self, secret: Secret) -> None:
        # Written straight into the headers, so that no frame holds the token as a str.
        targets: list[MutableMapping[str, str]] = [self.headers]
        if self.owns_session and self.session is not None:
            targets.append(self.session.headers)
        for headers in targets:
            if secret:
                headers["Authorization"] = secret.bearer()
            else:
                headers.pop("Authorization", None)

    async def aclose(self) -> None:
        self.closed = True
        keeper, self.keeper = self.keeper, None
        self.session = None
        for client in list(self.clients):
            client.mark_closed()
        if self.loop is not asyncio.get_running_loop():
            return  # the loop that owned them closed them as it shut down
        for response in list(self.streams):
            response.close()
        if keeper is not None:
            await keeper.aclose()


class Transport:
    """One client's configuration (frozen, normalised once: :class:`Timeout`,
    :class:`RetryPolicy`, :class:`RateLimit`), its retry budget and rate-limit state, and
    the pipeline that builds and sends its requests over a shared :class:`_Pool`."""

    def __init__(
        self,
        *,
        token: Secret | TokenProvider | None,
        base_url: str,
        timeout: Timeout,
        retry: RetryPolicy,
        rate_limit: RateLimit | None,
        max_concurrency: int,
        accept_version: str,
        session: aiohttp.ClientSession | None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise TypeError("max_concurrency takes an int")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if session is not None and token and getattr(session, "auth", None) is not None:
            raise ValueError("the session passed in has auth= set, which clashes with the token")
        auth = _Auth(token)
        self.base_url = check_base_url(base_url)
        self.accept_version = accept_version
        headers = self.headers(auth.secret)
        headers.update(_checked_headers(default_headers))
        self._pool = _Pool(session, max_concurrency, headers, auth)
        self._owns_pool = True
        self._default_query = _default_query(default_query)
        self._configure(timeout, retry, rate_limit)
        self.bucket = self._new_bucket(rate_limit)
        self.budget = BudgetState(retry.budget) if retry.budget is not None else None
        self.observer: Observer | None = None  # hooks: the client's hooks and tracing

    def _configure(
        self, timeout: Timeout, retry: RetryPolicy, rate_limit: RateLimit | None
    ) -> None:
        self._pool.clients.add(self)
        self.timeout = timeout
        self.retry = retry
        self.rate_limit = rate_limit
        # aiohttp's form of each distinct timeout, built once.
        self._timeouts: dict[object, aiohttp.ClientTimeout] = {}
        self._client_timeout = self._aiohttp_timeout(timeout)
        self._closing: asyncio.Event | None = None
        self._closing_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.retries = 0  # retries this client has made, for counters such as a scrape's

    def _new_bucket(self, rate_limit: RateLimit | None) -> TokenBucket | None:
        return TokenBucket(rate_limit, sleep=self._bucket_sleep) if rate_limit else None

    def copy(
        self,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | NotGiven | None = NOT_GIVEN,
    ) -> Transport:
        """A transport on the same pool (session, connections, concurrency limit): with
        the rate-limit state shared unless ``rate_limit`` is given, and the retry budget
        shared unless ``retry`` brings another budget."""
        new = object.__new__(Transport)
        new.base_url = self.base_url
        new._default_query = self._default_query
        new.accept_version = self.accept_version
        new._pool = self._pool
        new._owns_pool = False
        policy = retry if retry is not None else self.retry
        limit = self.rate_limit if isinstance(rate_limit, NotGiven) else rate_limit
        new._configure(timeout if timeout is not None else self.timeout, policy, limit)
        if self._pool.closed:
            new._closed = True  # a copy of a closed client is closed
        new.bucket = self.bucket if isinstance(rate_limit, NotGiven) else new._new_bucket(limit)
        if policy.budget == self.retry.budget:
            new.budget = self.budget
        else:
            new.budget = BudgetState(policy.budget) if policy.budget is not None else None
        new.observer = self.observer  # hooks
        return new

    # -- lifetime -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def max_concurrency(self) -> int:
        return self._pool.max_concurrency

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        return self._pool.session

    async def session(self) -> aiohttp.ClientSession:
        """The pooled session, created on first use (it needs a running loop)."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        return await self._pool.open()

    def mark_closed(self) -> None:
        """Closed, and every retry or rate-limit wait of this client woken at once."""
        self._closed = True
        if self._closing is not None and self._closing_loop is self._pool.loop:
            self._closing.set()

    async def aclose(self) -> None:
        """Close this client; the pool too if this client made it."""
        self.mark_closed()
        if self._owns_pool:
            await self._pool.aclose()

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; False, at once, if the client is or gets closed."""
        if self._closed:
            return False
        loop = asyncio.get_running_loop()
        if self._closing is None or self._closing_loop is not loop:
            self._closing, self._closing_loop = asyncio.Event(), loop
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return True
        return False

    async def _bucket_sleep(self, seconds: float) -> None:
        if not await self._wait(seconds):
            raise ClientClosedError("the client is closed")

    def _closed_error(self, request: Request, *, sent: bool) -> ClientClosedError:
        return ClientClosedError(
            "the client is closed", method=request.method, path=request.path, sent=sent
        )

    # -- building requests ----------------------------------------------------------

    def headers(self, token: Secret | None) -> dict[str, str]:
        """The headers every request carries: the one place ``Accept-Version`` is set."""
        headers = {
            "Accept": "application/json",
            "Accept-Version": self.accept_version,
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = token.bearer()
        return headers

    async def reauthenticate(self) -> None:
        """Ask the token provider, if any, for a fresh token (a stream does before each
        reconnect)."""
        pool = self._pool
        if pool.auth.provider is not None:
            if pool.loop is not asyncio.get_running_loop():
                await pool.open()
            await pool.authenticate(pool.auth.generation)

    def _aiohttp_timeout(self, t: Timeout, sock_read: float | None = None) -> aiohttp.ClientTimeout:
        key = (t.total, t.connect, sock_read)
        cached = self._timeouts.get(key)
        if cached is None:
            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            cached = self._timeouts[key] = aiohttp.ClientTimeout(
                total=t.total, connect=t.connect, sock_read=sock_read
            )
        return cached

    def client_timeout(self, override: TimeoutArg | NotGiven) -> aiohttp.ClientTimeout:
        """aiohttp's timeout for a call's ``timeout`` argument (see
        :func:`~._types.resolve_timeout`)."""
        if override is NOT_GIVEN:
            return self._client_timeout
        return self._aiohttp_timeout(resolve_timeout(override, self.timeout))

    def build(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        multipart: list[tuple[str, bytes | str, str | None]] | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        *,
        stream_idle: float | NotGiven | None = NOT_GIVEN,
    ) -> Request:
        """The request to send: its URL, its own headers (the client's are the session's)
        and aiohttp's timeout. A stream (``stream_idle`` given: its idle timeout) applies
        the connect timeout alone, and bounds the wait for the answer by ``stream_idle``."""
        if self._default_query:
            query = _merge_query(query, self._default_query)
        url = self.base_url + path + ("?" + query if query else "")
        if timeout is NOT_GIVEN and stream_idle is NOT_GIVEN:
            client_timeout = self._client_timeout  # a call's, as most calls have it
        elif isinstance(stream_idle, NotGiven):
            client_timeout = self.client_timeout(timeout)
        else:
            t = resolve_timeout(timeout, self.timeout)
            client_timeout = self._aiohttp_timeout(Timeout(None, t.connect), stream_idle)
        return Request(method, path, url, headers or None, body, multipart, client_timeout)

    # -- calls ----------------------------------------------------------------------

    def call(self, action: Action[T], args: Mapping[str, Any]) -> Coroutine[Any, Any, T]:
        """Run one generated action with its coroutine's arguments: the request is built
        here, and the coroutine returned sends it and decodes the answer (one coroutine
        for the whole call: every resumption passes through one frame fewer)."""
        return self.send(self.build_call(action, args), action=action)

    def build_call(self, action: Action[Any], args: Mapping[str, Any]) -> Request:
        """The request of a generated action (what :meth:`call` sends)."""
        encoded = (action.encoder or encoder_for(action)).encode(args)
        return self.build(
            encoded.method, encoded.path, encoded.query, encoded.headers, encoded.body,
            encoded.multipart, args["timeout"],
        )  # fmt: skip

    def build_raw(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        timeout: TimeoutArg | NotGiven,
    ) -> Request:
        """The request of :meth:`LosantClient.request`."""
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        if "#" in path:
            raise ValueError("path must not have a fragment ('#')")
        # A query written into the path comes first, then ``params``.
        path, _, query = path.partition("?")
        query = "&".join(q for q in (query, encode_params(params)) if q)
        extra = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else msgspec.json.encode(body)
            extra.setdefault("Content-Type", "application/json")
        return self.build(method.upper(), path, query, extra, data, None, timeout)

    @staticmethod
    def decode_json(request: Request, response: Response) -> Any:
        """A raw request's answer: its JSON, or None for an empty body."""
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

    def _status_error(self, request: Request, status: int, headers: Any, body: bytes) -> APIError:
        """The one mapping of an answer's status to its typed error, for calls and streams."""
        return error_for_status(
            status, method=request.method, path=request.path, body=body, headers=dict(headers)
        )

    @overload
    async def send(self, request: Request, *, stream: Literal[False] = False) -> Response: ...

    @overload
    async def send(self, request: Request, *, stream: Literal[True]) -> aiohttp.ClientResponse: ...

    @overload
    async def send(self, request: Request, *, action: Action[T]) -> T: ...

    @overload
    async def send(
        self, request: Request, *, action: Action[T] | None, raw: Literal[True]
    ) -> RawResponse[T]: ...

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        action: Action[Any] | None = None,
        raw: bool = False,
    ) -> Any:
        """Send ``request``: a 2xx :class:`Response` (decoded to ``action``'s model when
        given; a :class:`RawResponse` with ``raw``) or a :class:`LosantError`, after the
        retries the policy allows. With ``stream=True``, one attempt outside the limits
        (a stream is no call in flight) returning the open response, whose body the
        caller reads and closes, for any status below 400; the caller's reconnects decide
        how often to try. A 401 with a token provider is sent once more with a fresh
        token."""
        policy = self.retry
        obs = None if stream else self.observer  # hooks (a stream's connect: in sse.py)
        att: Attempt | None = None  # hooks
        pool = self._pool
        attempt = 0  # retries made by the policy
        tries = 0  # attempts made, the one after a fresh token included
        reauthenticated = False
        sent = False
        data: Any = request.body
        began = time.monotonic() if raw else 0.0
        while True:
            # -- an attempt starts.
            tries += 1
            # Checked per attempt: a disabled log costs neither formatting nor the clock.
            debug = logger.isEnabledFor(logging.DEBUG)
            started = time.monotonic() if debug else 0.0
            if self._closed:
                raise self._closed_error(request, sent=False)
            session = pool.session
            # Still the pool's event loop? asyncio's own loops name the thread that runs
            # them, and a thread runs one loop at a time: that spares the getpid() system
            # call get_running_loop() makes on Python 3.11. Other loops are asked.
            if session is None or (
                getattr(pool.loop, "_thread_id", None) != get_ident()
                and pool.loop is not asyncio.get_running_loop()
            ):
                session = await pool.open()  # first: a new event loop resets the limits
            generation = pool.auth.generation  # the token this attempt is sent with
            if request.multipart is not None:
                data = self._form(request.multipart)  # a form is consumed by sending it
            # Our own session needs no per-request middleware (see _Pool.open): whether a
            # failed request was written is read from the failure instead.
            exchange = None if pool.bare else _Exchange()
            written = False
            answered = False
            chunks: list[bytes] = []
            failed: type[APIConnectionError] = APIConnectionError
            what = ""
            response: Response | None = None
            opened: aiohttp.ClientResponse | None = None
            limiter = pool.limiter
            assert limiter is not None
            # The slot first, then the rate-limit token: tokens taken while queued for a
            # slot would all be spent at once when a slow call frees it.
            if not stream and not limiter.try_acquire():
                await limiter.acquire()
            try:
                if self.bucket is not None and not stream:
                    try:
                        await self.bucket.acquire()
                    except ClientClosedError:
                        raise self._closed_error(request, sent=False) from None
                if self._closed:
                    raise self._closed_error(request, sent=False)
                if obs is not None:  # hooks: attempt start
                    att = obs.start(action, request.method, request.path, request.url, tries)
                try:
                    # Our error handling must not depend on how a caller's session is set
                    # up: statuses are ours to judge, and bodies are always decompressed.
                    context = session.request(
                        request.method,
                        request.url,
                        # Not a local: a caller's session gets the token among these.
                        headers=request.headers
                        if pool.owns_session
                        else {**pool.headers, **(request.headers or {})},
                        data=data,
                        timeout=request.timeout,
                        middlewares=pool.middlewares
                        if exchange is None
                        else (exchange, *pool.middlewares),
                        raise_for_status=False,
                        auto_decompress=True,
                    )
                    if stream:
                        opened = await context
                        pool.streams.add(opened)
                        answered = True
                        if opened.status >= 400:
                            # Read (bounded) for the error; the connection is not reused.
                            chunks.append(await opened.content.read(1 << 16))
                    else:
                        async with context as resp:
                            answered = True
                            # Chunk by chunk, so that a body cut short keeps what arrived.
                            content = resp.content
                            while chunk := await content.readany():
                                chunks.append(chunk)
                            if resp.status == 429 and self.bucket is not None:
                                # Inside the slot, so that no caller queued for it sends
                                # first.
                                self._throttle(resp.headers.get("Retry-After"))
                            body = b"".join(chunks)  # a single chunk: that very object
                            response = Response(resp.status, resp.headers, body)
                except aiohttp.ConnectionTimeoutError:
                    failed, what = APITimeoutError, "connect timeout"
                except aiohttp.ClientConnectorError as exc:
                    what = f"cannot connect: {exc.os_error}"
                except TimeoutError as exc:
                    failed = APITimeoutError
                    written = exchange.sent if exchange else answered or _written(exc)
                    what = "timed out" if written else "timed out before sending"
                except aiohttp.ClientError as exc:
                    # Once headers arrived the body was cut short; before, the request
                    # may or may not have reached the server.
                    written = exchange.sent if exchange else answered or _written(exc)
                    what = "response truncated" if answered else "connection lost"
                    detail = str(exc) if isinstance(exc, _Dropped) else describe_failure(exc)
                    what = f"{what}: {detail}"
                except RuntimeError as exc:
                    if not self._closed:  # aiohttp's "Session is closed", after aclose()
                        raise
                    written = exchange.sent if exchange else answered or _written(exc)
            except BaseException as exc:
                if obs is not None:  # hooks: attempt end, cancelled (or closed while queued)
                    obs.end(att, None, exc)
                raise
            finally:
                if not stream:
                    limiter.release()
            if opened is not None:
                if not answered or opened.status >= 400:
                    opened.close()
                if answered:
                    response = Response(opened.status, opened.headers, b"".join(chunks))
            # -- the attempt ended: an answer, or a failure.
            # Judged here, outside the handlers, so that no aiohttp error rides along as
            # __context__ of what is raised: some hold the request headers, and so the token.
            error: APIError | APIConnectionError
            retry_after: str | None = None
            if response is None:
                if self._closed:
                    closed = self._closed_error(request, sent=written)
                    if obs is not None:  # hooks: attempt end, closed in flight
                        obs.end(att, None, closed)
                    raise closed
                error = failed(
                    what,
                    method=request.method,
                    path=request.path,
                    sent=written,
                    partial=b"".join(chunks),
                )
                if debug:
                    logger.debug(
                        "%s %s failed: %s (attempt %d, %.3fs)",
                        request.method,
                        request.path,
                        type(error).__name__,
                        tries,
                        time.monotonic() - started,
                    )
                sent = sent or error.sent
                retryable = policy.retryable_error(request.method, sent=error.sent)
                if obs is not None:  # hooks: attempt end, failure
                    obs.end(att, None, error)
            else:
                if debug:
                    logger.debug(
                        "%s %s -> %d (attempt %d, %.3fs)",
                        request.method,
                        request.path,
                        response.status,
                        tries,
                        time.monotonic() - started,
                    )
                if opened is not None and response.status < 400:
                    return opened
                if response.status < 300:
                    if self.budget is not None:
                        self.budget.success()
                    if self.bucket is not None:
                        self.bucket.succeeded()
                    if obs is not None:  # hooks: attempt end, success
                        obs.end(att, response.status, None)
                    if raw:
                        return self._raw(action, request, response, began, tries)
                    if action is not None:
                        return self._decode_model(action, request, response)
                    return response
                error = self._status_error(
                    request, response.status, response.headers, response.body
                )
                sent = True
                retry_after = error.retry_after
                retryable = policy.retryable_status(request.method, response.status)
                if obs is not None:  # hooks: attempt end, failure
                    obs.end(att, response.status, error)
                if response.status == 401 and pool.auth.provider and not reauthenticated:
                    # -- retried once with a fresh token, whatever the policy.
                    reauthenticated = True
                    logger.debug("%s %s: 401, asking for a fresh token", request.method,
                                 request.path)  # fmt: skip
                    await pool.authenticate(generation)
                    if obs is not None and att is not None:  # hooks: re-sent, a fresh token
                        obs.retry(att, 401, error, 0.0)
                    continue
            # -- retry, or raise.
            if stream or not retryable or attempt >= policy.max_retries:
                raise error
            if self.budget is not None and not self.budget.try_spend():
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

    def _raw(
        self,
        action: Action[Any] | None,
        request: Request,
        response: Response,
        began: float,
        tries: int,
    ) -> RawResponse[Any]:
        parse: Callable[[], Any]
        if action is not None:
            parse = functools.partial(self._decode_model, action, request, response)
        else:
            parse = functools.partial(self.decode_json, request, response)
        return RawResponse(
            response.status,
            response.headers,
            response.body,
            time.monotonic() - began,
            tries,
            parse,
        )

    @staticmethod
    def _form(fields: list[tuple[str, bytes | str, str | None]]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value, filename in fields:
            if filename is None:
                form.add_field(name, value)
            else:
                form.add_field(name, value, filename=filename)
        return form

    def _throttle(self, retry_after: str | None) -> None:
        assert self.bucket is not None
        pause = parse_retry_after(retry_after) if retry_after else None
        # Capped like the retry's own wait: one 429 must not stall the client.
        self.bucket.throttled(min(pause, self.retry.retry_after_max) if pause is not None else None)

    # -- decoding -------------------------------------------------------------------

    def decoder(self, model: str) -> msgspec.json.Decoder[Any]:
        """A cached typed decoder for a model name (loads the model on first use)."""
        decoders = self._pool.decoders
        dec = decoders.get(model)
        if dec is None:
            dec = decoders[model] = msgspec.json.Decoder(model_type(model))
        return dec

    def _decode_model(
        self, action: Action[Any], request: Request | EncodedRequest, response: Response
    ) -> Any:
        responses = action.responses
        status = response.status
        if status in responses:
            model = responses[status]
        else:
            model = next((m for m in responses.values() if m), None)
        if model is None or (not response.body and status == 204):
            return None
        try:
            return (self._pool.decoders.get(model) or self.decoder(model)).decode(response.body)
        except (msgspec.DecodeError, RecursionError) as exc:
            return decode_leniently(self.decoder(model), response.body, exc, what="body",
                status=response.status, method=request.method, path=request.path)  # fmt: skip
