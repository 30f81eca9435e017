"""LosantClient: configuration, session lifetime and lazily loaded resources."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._generated.client import RESOURCES, Resources
from ._generated.meta import ACCEPT_VERSION
from ._lifetime import AsyncCloseable
from ._limits import RateLimit
from ._retry import RetryPolicy
from ._transport import Secret, Transport
from ._types import Timeout, TimeoutArg

if TYPE_CHECKING:
    import aiohttp
    from opentelemetry.trace import TracerProvider  # hooks

    from .hooks import Hooks  # hooks
    from .sse import EventStream, ServerSentEvent

DEFAULT_BASE_URL = "https://api.losant.com"
DEFAULT_TIMEOUT = Timeout()


def _secret(token: str | None) -> Secret | None:
    if token is None:
        token = os.environ.get("LOSANT_API_TOKEN") or None
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
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | int | None = None,
        rate_limit: float | RateLimit | None = None,
        max_concurrency: int = 32,
        accept_version: str = ACCEPT_VERSION,
        session: aiohttp.ClientSession | None = None,
        hooks: Hooks | None = None,
        tracing: bool | TracerProvider = False,
    ) -> None:
        # From here on the token lives only in a Secret: a traceback through this frame
        # (say, for a bad base_url) must not show it among the locals.
        secret = _secret(token)
        del token
        if secret is not None:
            secret.check()
        if base_url is None:
            base_url = os.environ.get("LOSANT_API_URL") or DEFAULT_BASE_URL
        if timeout is None:
            timeout = Timeout(total=None, connect=None)
        elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
            timeout = Timeout(total=float(timeout))
        elif not isinstance(timeout, Timeout):
            raise TypeError("timeout takes seconds, a Timeout or None (no limit)")
        if retry is None:
            retry = RetryPolicy()
        elif isinstance(retry, int):
            retry = RetryPolicy(max_retries=retry)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            rate_limit = RateLimit(rate_limit)  # the same limit as RateLimit(n)
        self._transport = Transport(
            token=secret,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            accept_version=accept_version,
            session=session,
        )
        if hooks is not None or tracing is not False:  # hooks and tracing, when asked for
            from ._observer import observer

            self._transport.observer = observer(hooks, tracing, self._transport.base_url)
        self._resources: dict[str, Any] = {}

    def __repr__(self) -> str:
        # Also shown for a half-built client, in the locals of a failed __init__.
        transport = getattr(self, "_transport", None)
        return f"<LosantClient {transport.base_url}>" if transport else "<LosantClient>"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def _resource(self, module: str, cls: str) -> Any:
        resource = self._resources.get(module)
        if resource is None:
            mod = importlib.import_module(f"losant_async._generated.resources.{module}")
            resource = self._resources[module] = getattr(mod, cls)(self._transport)
        return resource

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
        timeout: TimeoutArg = None,
    ) -> Any:
        """Send any request (``path`` from the API root) with the client's auth, limits,
        retries and errors; returns the decoded JSON, or None for an empty body."""
        return await self._transport.request(method, path, params, body, headers, timeout)

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
        """Close the session (unless it was passed in)."""
        await self._transport.aclose()
