"""Traces across the mesh: caller -> router server span -> one client span per attempt -> provider
server span, all in the caller's trace; a failover shows as two attempts and an event; the request
id comes back to the caller and is in the provider's log lines; tracing off adds no span.

A router and synthetic providers run in this process, so one in-memory exporter sees them all.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import grpc
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.config import RouterConfig, StaticProvider
from prizm_core.options import options_struct
from prizm_core.router.app import run_router
from prizm_core.serving import ServeSettings
from prizm_core.telemetry.json_logs import with_context
from prizm_core.telemetry.tracing import TracingSettings
from provider_servers.remote import FakeVendor, RemoteProvider, Vendor
from provider_servers.sdk import Capability, Event, Job, MediaKind, ModelSpec, Output
from provider_servers.sdk.harness import ProviderSettings, serve
from provider_servers.synthetic.provider import SyntheticProvider
from tests.support.control import configure
from tests.support.mesh import wait_routable, wait_until
from tests.support.spans import memory_exporter, spans_of

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{CALLER_SPAN:016x}-01"
ON, OFF = TracingSettings(enabled=True), TracingSettings(enabled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def _mesh(tracing: TracingSettings, *names: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A router in this process over synthetic providers `names` (the first preferred)."""
    stop = asyncio.Event()
    providers = [f"127.0.0.1:{_free_port()}" for _ in names]
    tasks = [
        asyncio.create_task(
            serve(
                SyntheticProvider(name),
                ProviderSettings(
                    serve=ServeSettings(port=int(a.rpartition(":")[2]), grace_s=0.5), tracing=tracing
                ),
                stop,
            )
        )
        for name, a in zip(names, providers, strict=True)
    ]
    router = f"127.0.0.1:{_free_port()}"
    listed = tuple(StaticProvider(a, priority=10 - i) for i, a in enumerate(providers))
    config = RouterConfig(listen=router, providers=listed, grace_s=0.5, tracing=tracing)
    tasks.append(asyncio.create_task(run_router(config, stop)))
    try:
        await wait_routable(router, len(names), timeout=30)
        yield router, providers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _transform(router: str, metadata: Sequence[tuple[str, str]]) -> tuple[dict[str, str], str]:
    """Runs a text job through the router; its initial metadata and its output text."""
    request = model_pb.TransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("hello traces")]
    )
    async with insecure_channel(router) as channel:
        call = model_grpc.ModelServiceStub(channel).Transform(request, metadata=tuple(metadata), timeout=20)
        headers = {k: str(v) for k, v in await call.initial_metadata()}
        events = [event async for event in call]
        text = b"".join(e.output_chunk.data for e in events if e.HasField("output_chunk"))
    return headers, text.decode()


def _one(spans: list[ReadableSpan], name: str, kind: SpanKind, **attributes: str) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.name == name
        and s.kind == kind
        and all(s.attributes and s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, [(s.name, s.kind, dict(s.attributes or {})) for s in spans]
    return found[0]


async def test_a_failover_is_one_trace_from_the_caller_down_to_each_provider() -> None:
    exporter = memory_exporter()
    async with _mesh(ON, "syn-a", "syn-b") as (router, (first, _)):
        await configure(first, refuse="UNAVAILABLE")  # refused before its first event: failover
        exporter.clear()
        headers, text = await _transform(router, [("traceparent", TRACEPARENT), ("x-request-id", "req-42")])
        assert text and headers["x-request-id"] == "req-42" and headers["prizm-job-id"]
        await wait_until(lambda: _count(TRACE_ID, 5), 10, interval=0.02)
    # The router checked both providers' health all along: none of it is traced.
    assert not [s.name for s in exporter.get_finished_spans() if s.name.startswith("grpc.health.")]
    spans = spans_of(TRACE_ID)
    job_id = headers["prizm-job-id"]
    [top] = [s for s in spans if s.kind == SpanKind.SERVER and s.parent and s.parent.span_id == CALLER_SPAN]
    assert top.name == "prizm.v1.ModelService/Transform" and top.parent and top.parent.is_remote
    attrs = dict(top.attributes or {})
    assert {
        k: attrs.get(k) for k in ("rpc.system", "rpc.service", "rpc.method", "prizm.job_id", "prizm.provider")
    } == {
        "rpc.system": "grpc",
        "rpc.service": "prizm.v1.ModelService",
        "rpc.method": "Transform",
        "prizm.job_id": job_id,
        "prizm.provider": "syn-b",
    }
    assert (attrs["prizm.capability"], attrs["prizm.outcome"], attrs["rpc.grpc.status_code"]) == (
        "text-to-text",
        "ok",
        0,
    )
    failover = [e for e in top.events if e.name == "prizm.failover"]
    assert [dict(e.attributes or {}) for e in failover] == [
        {"prizm.from_provider": "syn-a", "prizm.to_provider": "syn-b"}
    ]
    _assert_attempts(spans, top, job_id)
    assert len(spans) == 5 and {s.context.trace_id for s in spans if s.context} == {TRACE_ID}


def _assert_attempts(spans: list[ReadableSpan], top: ReadableSpan, job_id: str) -> None:
    """Two attempts under the router's span, each the parent of the provider span it called."""
    refused = _one(spans, "prizm.v1.ModelService/Transform", SpanKind.CLIENT, **{"prizm.provider": "syn-a"})
    served = _one(spans, "prizm.v1.ModelService/Transform", SpanKind.CLIENT, **{"prizm.provider": "syn-b"})
    assert (refused.attributes or {})["prizm.outcome"] == "unavailable"
    assert (served.attributes or {})["prizm.outcome"] == "ok"
    for attempt in (refused, served):
        assert attempt.parent is not None and top.context is not None
        assert attempt.parent.span_id == top.context.span_id
    # Each provider's server span is the child of the router's attempt that called it.
    providers = [s for s in spans if s.kind == SpanKind.SERVER and s is not top]
    assert sorted(str((s.attributes or {}).get("prizm.outcome")) for s in providers) == ["ok", "unavailable"]
    for span in providers:
        outcome = (span.attributes or {})["prizm.outcome"]
        parent = served if outcome == "ok" else refused
        assert span.parent is not None and parent.context is not None
        assert span.parent.span_id == parent.context.span_id
    ok = next(s for s in providers if (s.attributes or {})["prizm.outcome"] == "ok")
    assert (ok.attributes or {})["prizm.job_id"] == job_id and (ok.attributes or {})[
        "prizm.provider"
    ] == "syn-b"


async def _count(trace_id: int, wanted: int) -> bool:
    return len(spans_of(trace_id)) >= wanted


async def test_tracing_off_adds_no_spans_and_the_request_id_still_comes_back() -> None:
    exporter = memory_exporter()
    async with _mesh(OFF, "syn-off") as (router, _):
        exporter.clear()
        headers, text = await _transform(router, [("traceparent", TRACEPARENT)])
        async with insecure_channel(router) as channel:
            call = router_grpc.RouterServiceStub(channel).ListProviders(
                router_pb.ListProvidersRequest(), timeout=5
            )
            unary = {k: str(v) for k, v in await call.initial_metadata()}
            await call
    assert text and len(headers["x-request-id"]) == 32  # made by the router: the caller sent none
    assert len(unary["x-request-id"]) == 32 and unary["x-request-id"] != headers["x-request-id"]
    assert exporter.get_finished_spans() == ()


async def test_a_call_refused_before_its_first_message_still_gets_its_request_id() -> None:
    async with _mesh(OFF, "syn-refused") as (router, _), insecure_channel(router) as channel:
        # Bytes that are no TransformRequest: refused before the job (and its metadata) begins.
        transform = channel.unary_stream("/prizm.v1.ModelService/Transform")
        call = transform(b"\xff\xff\xff", metadata=(("x-request-id", "req-refused"),), timeout=20)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            _ = [event async for event in call]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-request-id" not in dict(refused.value.initial_metadata() or ())
    trailing = {k: v for k, v in refused.value.trailing_metadata() or () if not k.endswith("-bin")}
    assert trailing["x-request-id"] == "req-refused"


async def test_a_jobs_log_lines_carry_its_job_caller_request_and_trace() -> None:
    memory_exporter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    with_context(handler, "json", "%(message)s", str)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        async with _mesh(ON, "syn-logs") as (router, _):
            metadata = [
                ("traceparent", TRACEPARENT),
                ("x-request-id", "req-logs"),
                ("prizm-caller", "team-7"),
            ]
            headers, _ = await _transform(router, metadata)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    job = headers["prizm-job-id"]
    started = [e for e in lines if e["message"].startswith(f"job {job} started on syn-logs")]
    assert len(started) == 1, lines
    entry = started[0]
    assert (entry["job_id"], entry["caller"], entry["request_id"]) == (job, "team-7", "req-logs")
    assert entry["trace_id"] == f"{TRACE_ID:032x}" and len(entry["span_id"]) == 16
    assert entry["level"] == "INFO" and entry["logger"] == "provider_servers.sdk.servicer"


async def test_grpc_status_of_a_refused_job_is_on_the_router_span() -> None:
    exporter = memory_exporter()
    async with _mesh(ON, "syn-refuses") as (router, (only,)):
        await configure(only, refuse="INVALID_ARGUMENT")
        exporter.clear()
        try:
            await _transform(router, [("traceparent", TRACEPARENT.replace("4736", "4737"))])
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        else:
            raise AssertionError("the job was not refused")
        trace_id = TRACE_ID + 1
        await wait_until(lambda: _count(trace_id, 3), 10, interval=0.02)
    spans = spans_of(trace_id)
    [top] = [s for s in spans if s.kind == SpanKind.SERVER and s.parent and s.parent.span_id == CALLER_SPAN]
    assert (top.attributes or {})["prizm.outcome"] == "invalid_argument"
    assert (top.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]


class EchoVendor(FakeVendor):
    """One paid endpoint, and a free model list for the health probe."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/echo", self.echo)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "acme-echo"}]})

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response({"text": (await request.json())["text"].upper()})


class EchoProvider(RemoteProvider):
    id = "acme"
    display_name = "Acme"
    vendor = Vendor("acme", "ACME_API_KEY", "ACME_BASE_URL", "https://api.acme.invalid/v1")
    health_path = "/models"
    health_interval_s = 0.05

    def models(self) -> Sequence[ModelSpec]:
        return [
            ModelSpec(
                id="acme-echo",
                display_name="Acme echo",
                description="Says the text back, upper-cased.",
                capabilities=(Capability.TEXT_TO_TEXT,),
                output_mime_type="text/plain",
            )
        ]

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        response = await self.http.request("POST", "/echo", json={"text": job.inputs[0].text()})
        yield Output(MediaKind.TEXT, "text/plain", response.json()["text"].encode())


async def test_a_remote_providers_vendor_request_is_a_child_span_sent_as_traceparent() -> None:
    exporter = memory_exporter()
    stop = asyncio.Event()
    with EchoVendor() as vendor:
        provider = EchoProvider.from_environment(
            {"ACME_API_KEY": "sk-test-0123456789", "ACME_BASE_URL": f"{vendor.url}/v1"}
        )
        port = _free_port()
        served = asyncio.create_task(
            serve(provider, ProviderSettings(serve=ServeSettings(port=port, grace_s=0.5), tracing=ON), stop)
        )
        router = f"127.0.0.1:{_free_port()}"
        config = RouterConfig(
            listen=router, providers=(StaticProvider(f"127.0.0.1:{port}"),), grace_s=0.5, tracing=ON
        )
        routed = asyncio.create_task(run_router(config, stop))
        try:
            await wait_routable(router, 1, timeout=30)
            exporter.clear()
            _, text = await _transform(router, [("traceparent", TRACEPARENT)])
            await wait_until(lambda: _count(TRACE_ID, 4), 10, interval=0.02)
        finally:
            stop.set()
            await asyncio.gather(served, routed)
        sent = vendor.requests("POST", "/v1/echo")[-1].headers["traceparent"]
    assert text == "HELLO TRACES"
    spans = spans_of(TRACE_ID)
    [http] = [s for s in spans if s.name == "POST"]
    [job] = [
        s
        for s in spans
        if s.kind == SpanKind.SERVER
        and (s.attributes or {}).get("prizm.provider") == "acme"
        and s.parent
        and s.parent.span_id != CALLER_SPAN
    ]
    assert http.kind == SpanKind.CLIENT and http.parent is not None and job.context is not None
    assert http.parent.span_id == job.context.span_id  # the vendor request is the provider job's child
    assert http.context is not None
    assert sent.startswith(f"00-{TRACE_ID:032x}-{http.context.span_id:016x}-")
    assert "sk-test" not in json.dumps([dict(s.attributes or {}) for s in spans])


async def test_a_caller_that_leaves_ends_every_span_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    exporter = memory_exporter()
    trace_id = TRACE_ID + 2
    traceparent = f"00-{trace_id:032x}-{CALLER_SPAN:016x}-01"
    slow = options_struct({"events": 40, "interval_ms": 50})
    request = model_pb.TransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[text_asset("leaving")], options=slow
    )
    async with _mesh(ON, "syn-slow") as (router, _):
        exporter.clear()
        async with insecure_channel(router) as channel:
            call = model_grpc.ModelServiceStub(channel).Transform(
                request, metadata=(("traceparent", traceparent),)
            )
            await call.read()
            call.cancel()
        await wait_until(lambda: _count(trace_id, 3), 10, interval=0.02)
    outcomes = sorted(str((s.attributes or {}).get("prizm.outcome")) for s in spans_of(trace_id))
    assert outcomes == ["cancelled"] * 3
    assert "Failed to detach context" not in caplog.text
