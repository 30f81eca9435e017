"""OpenTelemetry spans against the local Losant server, read back with the SDK's in-memory
exporter: one CLIENT span per attempt and per stream connection, with the HTTP client
semantic conventions' names and attributes, never the token; nothing loaded without it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from losant_async import LosantClient, RetryPolicy
from losant_async.errors import APIConnectionError, NotFoundError, StreamError
from losant_async.testing import FakeLosant, Status, StreamDrop
from tests.test_sse_live import read_across_a_drop

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(token="tok-trace-secret-77")]

FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)
MQTT = "application.mqttSubscriptionStream"
UNKNOWN_ID = "0123456789abcdef01234567"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
async def client(server: FakeLosant, provider: TracerProvider) -> AsyncIterator[LosantClient]:
    async with LosantClient(server.token, base_url=server.url, retry=FAST, tracing=provider) as c:
        yield c


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def assert_no_token(spans: tuple[ReadableSpan, ...], token: str) -> None:
    for span in spans:
        assert token not in span.name
        assert all(token not in str(v) for v in attrs(span).values())
        assert token not in (span.status.description or "")
        assert all(token not in str(e.attributes) for e in span.events)


async def test_a_retried_call_is_a_span_per_attempt(
    client: LosantClient, server: FakeLosant, provider: TracerProvider, exporter: Any
) -> None:
    ids = server.ids
    server.faults.add(Status(503), action="device.get", times=1)
    with provider.get_tracer("test").start_as_current_span("outer") as outer:
        await client.device.get(application_id=ids.application_id, device_id=ids.device_id)
    first, second, parent = exporter.get_finished_spans()
    assert parent.name == "outer"
    path = f"/applications/{ids.application_id}/devices/{ids.device_id}"
    host, port = server.url.removeprefix("http://").split(":")
    for span in (first, second):
        assert span.name == "GET /applications/{applicationId}/devices/{deviceId}"
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == outer.get_span_context().span_id
        a = attrs(span)
        assert a["http.request.method"] == "GET"
        assert (a["server.address"], a["server.port"]) == (host, int(port))
        assert a["url.full"].startswith(f"{server.url}{path}?")
        assert a["url.template"] == "/applications/{applicationId}/devices/{deviceId}"
        assert a["losant.action"] == "device.get"
    a1, a2 = attrs(first), attrs(second)
    assert (a1["http.response.status_code"], a1["error.type"]) == (503, "503")
    assert "http.request.resend_count" not in a1
    assert first.status.status_code is StatusCode.ERROR
    assert a2["http.response.status_code"] == 200 and a2["http.request.resend_count"] == 1
    assert "error.type" not in a2 and second.status.status_code is StatusCode.UNSET
    assert_no_token(exporter.get_finished_spans(), server.token)


async def test_a_not_found_is_an_error_span(
    client: LosantClient, server: FakeLosant, exporter: Any
) -> None:
    with pytest.raises(NotFoundError):
        await client.application.get(application_id=UNKNOWN_ID)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /applications/{applicationId}"
    assert attrs(span)["error.type"] == "404" and span.status.status_code is StatusCode.ERROR


async def test_a_raw_request_is_named_by_its_method_alone(
    client: LosantClient, server: FakeLosant, exporter: Any
) -> None:
    path = f"/applications/{server.ids.application_id}"
    await client.request("GET", path)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    assert attrs(span)["url.full"] == server.url + path
    assert "url.template" not in attrs(span) and "losant.action" not in attrs(span)


async def test_a_connection_failure_names_the_error_type(
    provider: TracerProvider, exporter: Any
) -> None:
    from tests.test_transport import _closed_port

    retry = RetryPolicy(max_retries=0)
    async with LosantClient("t", base_url=_closed_port(), retry=retry, tracing=provider) as c:
        with pytest.raises(APIConnectionError):
            await c.application.get(application_id=UNKNOWN_ID)
    (span,) = exporter.get_finished_spans()
    a = attrs(span)
    assert a["error.type"] == "losant_async.APIConnectionError"
    assert "http.response.status_code" not in a
    assert span.status.status_code is StatusCode.ERROR


async def test_a_stream_is_a_span_per_connection(
    client: LosantClient, server: FakeLosant, exporter: Any
) -> None:
    app = server.ids.application_id
    server.faults.add(Status(503), action=MQTT, times=1)
    server.faults.add(StreamDrop(every=1), action=MQTT, times=1)
    stream = client.application.mqtt_subscription_stream(
        application_id=app, topic="t/#", keep_alive_interval="0.1"
    )
    stream.backoff_base = stream.backoff_max = 0.001

    def connected_after_the_503() -> None:
        # Its span is still open.
        finished = exporter.get_finished_spans()
        assert [attrs(s)["http.response.status_code"] for s in finished] == [503]

    got = await read_across_a_drop(stream, server, app, connected_after_the_503)
    assert got == ["1", "2"]
    refused, dropped, last = exporter.get_finished_spans()
    path = f"/applications/{app}/mqttSubscriptionStream"
    for span in (refused, dropped, last):
        assert span.name == "GET /applications/{applicationId}/mqttSubscriptionStream"
        assert span.kind is SpanKind.CLIENT
        assert attrs(span)["url.full"].startswith(server.url + path + "?")
        assert attrs(span)["losant.action"] == MQTT
    assert attrs(refused)["error.type"] == "503"
    assert [attrs(s)["http.response.status_code"] for s in (dropped, last)] == [200, 200]
    assert [attrs(s).get("http.request.resend_count") for s in (refused, dropped, last)] == [
        None,
        1,
        2,
    ]
    assert all(s.status.status_code is StatusCode.UNSET for s in (dropped, last))
    assert_no_token(exporter.get_finished_spans(), server.token)


async def test_a_stream_connect_that_fails_ends_its_span(
    provider: TracerProvider, exporter: Any
) -> None:
    from tests.test_transport import _closed_port

    async with LosantClient("t", base_url=_closed_port(), tracing=provider) as c:
        stream = c.stream("/events")
        stream.max_reconnects = 0
        with pytest.raises(StreamError):
            await stream.__aenter__()
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and span.status.status_code is StatusCode.ERROR
    assert "error.type" in attrs(span) and "http.response.status_code" not in attrs(span)


def test_tracing_takes_a_provider_or_true() -> None:
    with pytest.raises(TypeError, match="tracing takes True, False or an opentelemetry"):
        LosantClient("t", base_url="http://127.0.0.1:9", tracing="yes")  # type: ignore[arg-type]


def run_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSANT_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_tracing_nothing_of_opentelemetry_is_loaded() -> None:
    out = run_python(
        """
        import sys
        from losant_async import LosantClient, Hooks
        LosantClient("t", base_url="http://127.0.0.1:9")
        LosantClient("t", base_url="http://127.0.0.1:9", hooks=Hooks(on_request=print))
        print(sorted(m for m in sys.modules
                     if m.startswith("opentelemetry") or m == "losant_async._tracing"))
        """
    )
    assert out == "[]\n"


def test_tracing_without_opentelemetry_says_what_to_install() -> None:
    out = run_python(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if not installed
        from losant_async import LosantClient
        try:
            LosantClient("t", base_url="http://127.0.0.1:9", tracing=True)
        except ImportError as exc:
            print(exc)
        """
    )
    assert out == "tracing needs opentelemetry-api: pip install 'losant-async[otel]'\n"
