"""The router's first promises: cancel and deadline reach the provider, clear errors, dead providers out."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import ServerProcess, cpu_seconds, start_provider, start_router, write_config

PARAGRAPH = (
    "Prizm routes every media job to the provider best placed to do it. "
    "It watches each provider's health and streams progress back as it happens. "
    "When a provider fails before doing any work, another one takes the job. "
    "Paid work is never run twice without the caller asking for it. "
)
LONG_TEXT = " ".join([PARAGRAPH] * 8)


async def _active_jobs(address: str) -> int:
    async with insecure_channel(address) as channel:
        stub = provider_grpc.ProviderServiceStub(channel)
        response = await stub.GetServiceStatus(provider_pb.GetServiceStatusRequest(), timeout=5)
    return response.status.active_jobs


async def test_cancelling_a_long_synthesis_stops_the_providers_work(
    mesh: ServerProcess, piper: ServerProcess
) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        async for event in client.stream("text-to-audio", LONG_TEXT, timeout=120):
            if isinstance(event, Progress) and event.stage == "synthesize":
                assert (event.fraction or 0) < 0.5, "the text must be long enough to cancel mid-way"
                break  # leaving the stream cancels the call
    cancelled = time.monotonic()

    async def idle() -> bool:
        return await _active_jobs(piper.address) == 0

    async def logged() -> bool:
        return re.search(r"job \w+ cancelled", piper.log_text()) is not None

    stopped_after = await wait_until(idle, timeout=5)
    assert time.monotonic() - cancelled < 1.0, f"provider still busy {stopped_after:.2f} s after cancel"
    await wait_until(logged, timeout=5)
    # The work itself stopped: no synthesis CPU burnt once the cancel has landed.
    await asyncio.sleep(max(0.0, cancelled + 1.0 - time.monotonic()))
    before = cpu_seconds(piper.pid)
    await asyncio.sleep(1.0)
    assert cpu_seconds(piper.pid) - before < 0.2


async def test_the_provider_sees_a_deadline_no_later_than_the_callers(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address, timeout=None) as client:
        caller_deadline = time.time() + 3.0
        events = [e async for e in client.stream("text-to-text", "tick", options={"events": 1}, timeout=3.0)]
        unbounded = [e async for e in client.stream("text-to-text", "tick", options={"events": 1})]
    (message,) = [e.message for e in events if isinstance(e, Progress) and e.stage == "synthetic"]
    seen = re.search(r"deadline at ([\d.]+)", message)
    assert seen is not None, message
    provider_deadline = float(seen.group(1))
    assert provider_deadline <= caller_deadline
    assert provider_deadline > caller_deadline - 1.0, "the deadline reached the provider nearly whole"
    (message,) = [e.message for e in unbounded if isinstance(e, Progress) and e.stage == "synthetic"]
    assert "no deadline" in message


async def test_a_capability_nobody_serves_fails_at_once_with_a_reason(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        started = time.monotonic()
        with pytest.raises(PrizmError) as failure:
            await client.run("text-to-3d", "a teapot", timeout=10)
    assert time.monotonic() - started < 1.0
    assert failure.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.value.reason == "NO_PROVIDER_FOR_CAPABILITY"
    assert "text-to-3d" in failure.value.message


async def test_unknown_options_are_rejected_with_field_violations(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        with pytest.raises(PrizmError) as failure:
            await client.run("text-to-audio", "hello", options={"speed": 9, "pitch": 2}, timeout=10)
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.reason == "INVALID_OPTIONS"
    fields = dict(failure.value.field_violations)
    assert set(fields) == {"options.speed", "options.pitch"}
    assert "at most 2" in fields["options.speed"]


def _providers_json(router: str) -> list[dict[str, object]]:
    output = subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", "providers", "--router", router, "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    listed: list[dict[str, object]] = json.loads(output)
    return listed


async def test_a_killed_provider_is_shown_unhealthy_and_gets_no_more_calls(tmp_config: Path) -> None:
    doomed, survivor = start_provider("synthetic"), start_provider("synthetic")
    router = start_router(write_config(tmp_config, [doomed.address, survivor.address]))
    try:
        await wait_routable(router.address, 2)
        doomed.signal(signal.SIGKILL)
        doomed.process.wait()

        def state_of(address: str) -> object:
            return next(e["state"] for e in _providers_json(router.address) if e["address"] == address)

        async def shown_down() -> bool:
            return state_of(doomed.address) == "not-serving"

        await wait_until(shown_down, timeout=5, interval=0.1)
        assert state_of(survivor.address) == "serving"

        async with PrizmClient(router.address) as client:
            for _ in range(10):
                result = await client.run(
                    "text-to-text", "after the crash", options={"events": 1}, timeout=10
                )
                assert result.outputs[0].data == synthetic_output(b"after the crash", 1024)
        # No call was even tried on the dead endpoint: the router never had to fail over.
        assert "failing over" not in router.log_text()
    finally:
        for server in (router, survivor, doomed):
            server.stop()
