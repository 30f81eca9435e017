"""LosantClient: configuration, session lifetime and lazily loaded resources."""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._generated.client import RESOURCES, RawResourcesBase, Resources
from ._generated.meta import ACCEPT_VERSION
from ._lifetime import AsyncCloseable
from ._limits import RateLimit
from ._retry import RetryPolicy
from ._transport import RawResponse, Secret, TokenProvider, Transport
from ._types import NOT_GIVEN, NotGiven, Timeout, TimeoutArg, resolve_timeout

if TYPE_CHECKING:
    import aiohttp
    from opentelemetry.trace import TracerProvider  # hooks

    from ._action import Action
    from .hooks import Hooks  # hooks
    from .sse import EventStream, ServerSentEvent

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.losant.com"
DEFAULT_TIMEOUT = Timeout()


def _secret(token: str | TokenProvider | None) -> Secret | TokenProvider | None:
    if token is None:
        token = os.environ.get("LOSANT_API_TOKEN") or None
    if callable(token):
        return token
    if isinstance(token, str):
        token = token.strip()  # a token read from a file often ends in a newline
    return Secret(token) if token is not None else None


class LosantClient(AsyncCloseable, Resources):
    """An asyncio client for the Losant API, one pooled aiohttp session per client.

    ``token`` defaults to ``$LOSANT_API_TOKEN`` and ``base_url`` to ``$LOSANT_API_URL`` or
    ``https://api.losant.com``. Use it as ``async with LosantClient() as client:`` or call
    :meth:`aclose`. Every resource of the API is an attribute
    (``client.instance_org.payload_counts_breakdown(...)``). A ``session`` passed in is
    used as is and not closed.

    ``token`` may also be a function, sync or async, returning the token: it is asked on
    first use, again after a 401 (the request is sent once more with the fresh token) and
    before each stream reconnect. ``default_headers`` and ``default_query`` go with every
    request, calls and streams alike, under the values a call sets itself.

    ``timeout`` is seconds for a whole attempt (more than 0), a :class:`Timeout`, or None
    for no limit;
    ``rate_limit`` takes requests per second (a float) or a :class:`RateLimit`;
    ``max_concurrency`` caps requests in flight (streams are not counted). A client may
    serve successive event loops (``asyncio.run`` twice), one at a time.

    ``hooks`` takes :class:`~losant_async.hooks.Hooks`, callbacks on each request attempt,
    retry and stream reconnect; ``tracing=True`` (or a ``TracerProvider``) makes an
    OpenTelemetry span per attempt and per stream connection (needs ``opentelemetry-api``,
    the ``otel`` extra).
    """

    def __init__(
        self,
        token: str | TokenProvider | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | int | None = None,
        rate_limit: float | RateLimit | None = None,
        max_concurrency: int = 32,
        accept_version: str = ACCEPT_VERSION,
        session: aiohttp.ClientSession | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        hooks: Hooks | None = None,
        tracing: bool | TracerProvider = False,
    ) -> None:
        # From here on the token lives only in a Secret: a traceback through this frame
        # (say, for a bad base_url) must not show it among the locals.
        secret = _secret(token)
        del token
        if isinstance(secret, Secret):
            secret.check()
        if base_url is None:
            base_url = os.environ.get("LOSANT_API_URL") or DEFAULT_BASE_URL
        self._transport = Transport(
            token=secret,
            base_url=base_url,
            timeout=resolve_timeout(timeout, DEFAULT_TIMEOUT),
            retry=RetryPolicy.of(retry),
            rate_limit=RateLimit.of(rate_limit),
            max_concurrency=max_concurrency,
            accept_version=accept_version,
            session=session,
            default_headers=default_headers,
            default_query=default_query,
        )
        if hooks is not None or tracing is not False:  # hooks and tracing, when asked for
            from ._observer import observer

            self._transport.observer = observer(hooks, tracing, self._transport.base_url)
        self._resources: dict[str, Any] = {}

    def with_options(
        self,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | int | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        rate_limit: float | RateLimit | NotGiven | None = NOT_GIVEN,
    ) -> LosantClient:
        """A copy of this client with other settings, on the same connections.

        The copy shares this client's session (its connection pool), its concurrency limit
        (``max_concurrency`` counts the calls of both), its token and base URL, its
        rate-limit state unless ``rate_limit`` is given, and its retry budget unless
        ``retry`` brings another budget. ``timeout`` is read as the client's
        (``None``: no limit); ``max_retries`` changes only that of the retry policy.
        Closing the copy ends its own calls and leaves the pool open; closing this
        client closes the pool, and with it every copy.
        """
        transport = self._transport
        policy = transport.retry if isinstance(retry, NotGiven) else RetryPolicy.of(retry)
        if not isinstance(max_retries, NotGiven):
            policy = dataclasses.replace(policy, max_retries=max_retries)
        copy = object.__new__(LosantClient)
        copy._transport = transport.copy(
            timeout=resolve_timeout(timeout, transport.timeout),
            retry=policy,
            rate_limit=rate_limit if isinstance(rate_limit, NotGiven) else RateLimit.of(rate_limit),
        )
        copy._resources = {}
        return copy

    @property
    def with_raw_response(self) -> RawResources:
        """The same resources, each call answering a :class:`RawResponse` (status,
        headers, bytes, elapsed time, attempts; ``.parse()`` for the model):
        ``await client.with_raw_response.device.get(...)``, and
        ``client.with_raw_response.request(...)``."""
        raw: RawResources | None = self.__dict__.get("_raw")
        if raw is None:
            raw = self.__dict__["_raw"] = RawResources(self._transport)
        return raw

    def __repr__(self) -> str:
        # Also shown for a half-built client, in the locals of a failed __init__.
        transport = getattr(self, "_transport", None)
        return f"<LosantClient {transport.base_url}>" if transport else "<LosantClient>"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def _resource(self, module: str, cls: str) -> Any:
        return _load_resource(self._resources, module, cls, self._transport)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *RESOURCES})

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> Any:
        """Send any request (``path`` from the API root) with the client's auth, limits,
        retries and errors; returns the decoded JSON, or None for an empty body.
        ``timeout`` left out is the client's; ``None`` is no limit."""
        transport = self._transport
        request = transport.build_raw(method, path, params, body, headers, timeout)
        return transport.decode_json(request, await transport.send(request))

    def stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        idle_timeout: float | None = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> EventStream[ServerSentEvent]:
        """Stream any server-sent-events URL (``path`` from the API root), reconnecting
        like the generated stream actions; yields raw :class:`ServerSentEvent` objects.
        ``headers`` are added to (or replace) the client's own on every connection."""
        from .sse import EventStream

        return EventStream.for_path(self._transport, path, params or {}, idle_timeout, headers)

    async def aclose(self) -> None:
        """Close the session (unless it was passed in); a copy made by
        :meth:`with_options` closes only itself."""
        await self._transport.aclose()


def _load_resource(loaded: dict[str, Any], module: str, cls: str, calls: Any) -> Any:
    """The resource ``cls`` of generated ``module`` over ``calls`` (a transport), imported
    and made on first use and kept in ``loaded``."""
    resource = loaded.get(module)
    if resource is None:
        mod = importlib.import_module(f"losant_async._generated.resources.{module}")
        resource = loaded[module] = getattr(mod, cls)(calls)
    return resource


class _RawCalls:
    """A transport whose calls answer a :class:`RawResponse` (everything else is the
    transport's: streams are as they are)."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def call(self, action: Action[T], args: Mapping[str, Any]) -> Coroutine[Any, Any, Any]:
        transport = self._transport
        return transport.send(transport.build_call(action, args), action=action, raw=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RawResources(RawResourcesBase):
    """``client.with_raw_response``: every resource, each call answering a
    :class:`RawResponse`."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._calls = _RawCalls(transport)
        self._resources: dict[str, Any] = {}

    def _resource(self, module: str, cls: str) -> Any:
        return _load_resource(self._resources, module, cls, self._calls)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> RawResponse[Any]:
        """:meth:`LosantClient.request`, answering a :class:`RawResponse` (``.parse()``:
        the decoded JSON)."""
        transport = self._transport
        request = transport.build_raw(method, path, params, body, headers, timeout)
        return await transport.send(request, action=None, raw=True)
