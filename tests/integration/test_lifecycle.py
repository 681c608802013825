"""Provider lifecycle: NOT_SERVING until warm, drain on SIGTERM, sidecar restarts, self-registration."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.options import options_struct
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import start_provider, start_router, write_config

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(address: str) -> int:
    async with insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)  # type: ignore[attr-defined]
    return int(answer.status)


async def test_a_provider_is_not_serving_until_warm() -> None:
    piper = start_provider("piper")  # loading the voice takes over a second
    try:
        assert await _health(piper.address) == NOT_SERVING

        async def serving() -> bool:
            return await _health(piper.address) == SERVING

        await wait_until(serving, timeout=60, interval=0.05)
    finally:
        piper.stop()


async def test_sigterm_drains_jobs_in_flight_and_refuses_new_ones() -> None:
    provider = start_provider("synthetic", "--grace", "10")
    request = model_pb.TransformRequest(
        capability=1,  # text-to-text
        inputs=[text_asset("drain")],
        options=options_struct({"events": 10, "interval_ms": 100, "output_bytes": 64}),
    )
    async with insecure_channel(provider.address) as channel:
        stub = model_grpc.ModelServiceStub(channel)
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))  # type: ignore[attr-defined]
        assert (await watch.read()).status == SERVING
        call = stub.Transform(request, timeout=30)
        events = [await call.read() for _ in range(3)]
        provider.signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert (await watch.read()).status == NOT_SERVING
        await asyncio.sleep(0.5)  # the notice period, for routers to turn away, is over
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.EstimateCost(
                model_pb.EstimateCostRequest(capability=1, inputs=request.inputs), timeout=5
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        while (event := await call.read()) is not grpc.aio.EOF:
            events.append(event)
    assert events[-1].WhichOneof("event") == "completion"
    data = b"".join(e.output_chunk.data for e in events if e.WhichOneof("event") == "output_chunk")
    assert data == synthetic_output(b"drain", 64)
    assert await asyncio.to_thread(provider.process.wait, 10) == 0
    assert time.monotonic() - signalled < 5.0, "exit must not wait out the grace period once idle"


async def test_a_crashed_sidecar_comes_back_on_its_port(tmp_config: Path) -> None:
    router = start_router(write_config(tmp_config, [], sidecars=[{"provider": "synthetic"}]))
    try:
        (endpoint,) = await wait_routable(router.address, 1)
        pid = int(re.search(r"synthetic#0 \(pid (\d+)\)", router.log_text()).group(1))  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)

        async def restarted() -> bool:
            return len(re.findall(r"synthetic#0 \(pid \d+\) listening", router.log_text())) == 2

        await wait_until(restarted, timeout=30, interval=0.05)
        (again,) = await wait_routable(router.address, 1)
        assert again.address == endpoint.address
        async with PrizmClient(router.address) as client:
            result = await client.run("text-to-text", "back", options={"events": 1}, timeout=10)
        assert result.outputs[0].data == synthetic_output(b"back", 1024)
    finally:
        assert router.stop() == 0
    assert "sidecar" in router.log_text()


async def test_providers_register_themselves_and_leave_with_their_lease() -> None:
    router = start_router()
    provider = start_provider("synthetic", "--register", router.address, "--lease", "1")
    try:
        async with insecure_channel(router.address) as channel:
            watch = router_grpc.RouterServiceStub(channel).WatchProviders(router_pb.WatchProvidersRequest())
            (endpoint,) = await wait_routable(router.address, 1)
            assert endpoint.address == provider.address
            assert endpoint.source == router_pb.DISCOVERY_SOURCE_REGISTERED
            provider.signal(signal.SIGKILL)  # no deregistration: the lease must run out
            killed = time.monotonic()
            changes = []
            async for change in watch:
                changes.append(change.change)
                if change.change == router_pb.ENDPOINT_CHANGE_REMOVED:
                    break
            assert time.monotonic() - killed < 5.0
            assert changes[0] == router_pb.ENDPOINT_CHANGE_ADDED
    finally:
        provider.stop()
        router.stop()


async def test_a_sidecar_this_machine_cannot_run_is_skipped_with_how_to_get_it(
    tmp_config: Path, tmp_path: Path
) -> None:
    # The OCR engine cannot be imported here: its sidecar exits at once saying how to install it.
    (tmp_path / "rapidocr_onnxruntime").mkdir()
    (tmp_path / "rapidocr_onnxruntime" / "__init__.py").write_text("raise ImportError('not here')\n")
    config = write_config(tmp_config, [], sidecars=[{"provider": "synthetic"}, {"provider": "ocr"}])
    router = start_router(config, env={"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])})
    try:

        async def skipped() -> bool:
            return "not available here" in router.log_text()

        await wait_until(skipped, timeout=60, interval=0.05)
        (endpoint,) = await wait_routable(router.address, 1)
        assert (endpoint.provider.id, endpoint.source) == ("synthetic", router_pb.DISCOVERY_SOURCE_SIDECAR)
        assert "pip install 'prizm[ocr]'" in router.log_text()
        await asyncio.sleep(1.0)  # a restart would come within the first back-off
        assert "restarting in" not in router.log_text()
        async with PrizmClient(router.address) as client:
            assert len(await client.list_providers()) == 1
    finally:
        assert router.stop() == 0
