"""Tracing setup from config and environment, the attempt's metadata, and vendor HTTP spans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from aiohttp import web
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from prizm_core.config import parse_config
from prizm_core.config_values import ConfigError
from prizm_core.telemetry import tracing
from prizm_core.telemetry.http_tracing import TracingTransport
from prizm_core.telemetry.tracing import Attempt, TracingSettings, enabled

CALLER = f"00-{'1' * 32}-{'2' * 16}-01"


@dataclass
class _Catalog:
    provider_id: str


@dataclass
class _Endpoint:
    address: str
    catalog: _Catalog | None


@pytest.mark.parametrize(
    ("settings", "environ", "on"),
    [
        (TracingSettings(), {}, False),
        (TracingSettings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        (TracingSettings(), {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, True),
        (TracingSettings(otlp_endpoint="http://collector:4317"), {}, True),
        (TracingSettings(otlp_endpoint="http://c:4317"), {"OTEL_SDK_DISABLED": "true"}, False),
        (TracingSettings(enabled=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}, False),
        (TracingSettings(enabled=True), {}, True),
    ],
)
def test_tracing_is_on_when_a_collector_is_named(
    settings: TracingSettings, environ: dict[str, str], on: bool
) -> None:
    assert enabled(settings, environ) is on
    if not on:
        assert tracing.tracer_for(settings, "prizm-router", environ) is None


def test_the_config_section_is_read_and_its_errors_name_the_key() -> None:
    config = parse_config({"tracing": {"otlp_endpoint": "http://otel:4317", "sample_ratio": 0.25}}, "r.yaml")
    assert config.tracing == TracingSettings(otlp_endpoint="http://otel:4317", sample_ratio=0.25)
    with pytest.raises(ConfigError, match=r"r\.yaml: tracing\.sample_ratio: Input should be less than"):
        parse_config({"tracing": {"sample_ratio": 1.5}}, "r.yaml")
    with pytest.raises(ConfigError, match=r"r\.yaml: tracing\.endpoint: Extra inputs are not permitted"):
        parse_config({"tracing": {"endpoint": "x"}}, "r.yaml")


def test_an_untraced_attempt_forwards_the_callers_trace_context_as_it_came() -> None:
    tried = [_Endpoint("127.0.0.1:1", _Catalog("a")), _Endpoint("127.0.0.1:2", None)]
    attempt = Attempt(tried, (("traceparent", CALLER), ("x-tenant", "t1")))
    assert attempt.metadata == (("traceparent", CALLER), ("x-tenant", "t1"))
    assert not attempt.span.is_recording()
    attempt.end(grpc.StatusCode.OK)  # nothing to end: no error either


def _sampled(traceparent: str) -> str:
    """`traceparent` without its flags, once they are checked to say sampled."""
    head, _, flags = traceparent.rpartition("-")
    assert int(flags, 16) & 1, traceparent
    return head


def _traced() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # not the global one: this test's spans only
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


async def test_a_traced_attempt_sends_its_own_span_as_the_parent() -> None:
    tracer, exporter = _traced()
    tracing.set_active_tracer(tracer)
    token = otel_context.attach(baggage.set_baggage("user", "alice"))  # the caller's, not passed on
    with tracer.start_as_current_span("router") as server:
        attempt = Attempt([_Endpoint("127.0.0.1:1", _Catalog("a"))], (("traceparent", CALLER),))

        async def two() -> AsyncIterator[bytes]:
            yield b"1"
            yield b"2"

        assert [m async for m in attempt.follow(two())] == [b"1", b"2"]
    otel_context.detach(token)
    assert [key for key, _ in attempt.metadata] == ["traceparent"]  # no baggage; no scope, no request id
    sent = {key: str(value) for key, value in attempt.metadata}
    [client] = [s for s in exporter.get_finished_spans() if s.name == "prizm.v1.ModelService/Transform"]
    assert client.context is not None and client.parent is not None
    assert _sampled(sent["traceparent"]) == f"00-{client.context.trace_id:032x}-{client.context.span_id:016x}"
    assert client.parent.span_id == server.get_span_context().span_id
    assert dict(client.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "prizm.v1.ModelService",
        "rpc.method": "Transform",
        "server.address": "127.0.0.1:1",
        "prizm.provider": "a",
        "rpc.grpc.status_code": 0,
        "prizm.outcome": "ok",
    }
    tracing.set_active_tracer(None)


async def test_a_vendor_request_is_a_child_span_and_carries_it_as_traceparent() -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent", ""))
        assert "baggage" not in request.headers
        return web.json_response({"ok": True}, status=503)

    app = web.Application()
    app.router.add_post("/v1/run", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    tracer, exporter = _traced()
    tracing.set_active_tracer(tracer)
    try:
        async with httpx.AsyncClient(transport=TracingTransport()) as client:
            await client.post(f"http://127.0.0.1:{port}/v1/run?key=sk-secret-123456", json={})
            with tracer.start_as_current_span("provider", context=baggage.set_baggage("user", "alice")):
                response = await client.post(f"http://127.0.0.1:{port}/v1/run?key=sk-secret-123456", json={})
    finally:
        tracing.set_active_tracer(None)
        await runner.cleanup()
    assert response.status_code == 503
    assert seen[0] == ""  # no traced call around the first request: no span, no header
    [vendor] = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    assert vendor.context is not None
    assert _sampled(seen[1]) == f"00-{vendor.context.trace_id:032x}-{vendor.context.span_id:016x}"
    assert dict(vendor.attributes or {}) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 503,
    }
    assert vendor.status.status_code == trace.StatusCode.ERROR


def test_sidecars_get_the_routers_tracing_as_otel_variables() -> None:
    endpoint = TracingSettings(otlp_endpoint="http://otel:4317")
    assert tracing.sidecar_environment(endpoint, {}) == (("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317"),)
    # The router's environment already names one: the sidecars inherit it as it is.
    assert tracing.sidecar_environment(endpoint, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4317"}) == ()
    assert tracing.sidecar_environment(TracingSettings(enabled=False), {}) == (("OTEL_SDK_DISABLED", "true"),)
    assert tracing.sidecar_environment(TracingSettings(), {}) == ()
