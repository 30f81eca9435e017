"""OpenTelemetry spans for a client made with ``tracing=True`` (or a ``TracerProvider``).

Imported only then: a client without tracing loads nothing of OpenTelemetry and pays
nothing per call. Spans follow OpenTelemetry's HTTP client semantic conventions:

- one CLIENT span per attempt (a retry is a new span with ``http.request.resend_count``),
  named ``{method} {path template}`` (``GET /applications/{applicationId}``; the method
  alone for ``client.request``), child of the span current when the call was made;
- one CLIENT span per stream connection, from its connect until the connection ends, its
  reconnects counted in ``http.request.resend_count``;
- attributes ``http.request.method``, ``server.address``, ``server.port``, ``url.full``
  (no credentials: a base URL cannot hold any, and the token is a header, never set),
  ``url.template``, ``http.response.status_code``, ``error.type`` (the status for 4xx and
  5xx answers, the exception's qualified name otherwise), ``losant.action``.

Opt-in rather than on whenever ``opentelemetry-api`` is installed: an application that
also instruments aiohttp would otherwise get two spans per request, and one that has the
API installed for other reasons would pay for spans it never asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ._version import __version__

try:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("tracing needs opentelemetry-api: pip install 'losant-async[otel]'") from exc

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

# The methods the conventions name; any other is "_OTHER".
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
# Query values that may be secrets: shown as REDACTED in url.full.
_SENSITIVE = ("token", "secret", "password", "signature", "sig", "key", "auth")


def _redacted(query: str) -> str:
    if not any(word in query.lower() for word in _SENSITIVE):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, "REDACTED" if any(w in k.lower() for w in _SENSITIVE) else v) for k, v in pairs],
        safe="[]{}:,",
    )


def _error_type(error: BaseException) -> str:
    cls = type(error)
    module = cls.__module__
    if module.startswith("losant_async"):
        module = "losant_async"  # where the error types are public
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class Tracing:
    """Starts and ends the spans of one client."""

    __slots__ = ("_host", "_port", "_tracer")

    def __init__(self, tracing: object, base_url: str) -> None:
        if tracing is True:
            provider: TracerProvider = trace.get_tracer_provider()
        elif isinstance(tracing, trace.TracerProvider):
            provider = tracing
        else:
            raise TypeError(
                "tracing takes True, False or an opentelemetry TracerProvider, "
                f"not {type(tracing).__name__}"
            )
        self._tracer = provider.get_tracer("losant_async", __version__)
        parts = urlsplit(base_url)
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)

    def start(
        self,
        method: str,
        template: str | None,
        url: str,
        resends: int,
        action: str | None,
    ) -> Span:
        """A started span for an attempt at ``url`` (the base URL's, path and query)."""
        known = method in _KNOWN_METHODS
        url, _, query = url.partition("?")
        attributes: dict[str, Any] = {
            "http.request.method": method if known else "_OTHER",
            "server.address": self._host,
            "server.port": self._port,
            "url.full": f"{url}?{_redacted(query)}" if query else url,
        }
        if not known:
            attributes["http.request.method_original"] = method
        if template is not None:
            attributes["url.template"] = template
        if resends:
            attributes["http.request.resend_count"] = resends
        if action is not None:
            attributes["losant.action"] = action
        name = method if known else "HTTP"
        if template is not None:
            name = f"{name} {template}"
        return self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    @staticmethod
    def answered(span: Span, status: int | None) -> None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)

    @staticmethod
    def end(span: Span, status: int | None, error: BaseException | None) -> None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if status is not None and status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        elif error is not None:
            span.set_attribute("error.type", _error_type(error))
            # The message names the method and path, never a header.
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()
