"""Failover only before commit: nothing lost before the first event, nothing rerun after it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Event, OutputChunk, Progress
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import ChangeLog, configure, status
from tests.support.fault_proxy import FaultProxy
from tests.support.mesh import wait_routable
from tests.support.processes import start_provider, start_router, synthetic_mesh, write_config

pytestmark = pytest.mark.faults

NOT_SERVING = router_pb.ENDPOINT_STATE_NOT_SERVING
SLOW = {"events": 40, "interval_ms": 50, "output_bytes": 2048}


async def test_calls_without_a_first_event_move_to_another_replica(
    tmp_path: Path, figures: dict[str, object]
) -> None:
    dying, spare = start_provider("synthetic"), start_provider("synthetic")
    proxy = FaultProxy(dying.address).start()
    config = tmp_path / "router.yaml"
    config.write_text(
        f"providers:\n  - {{address: '{proxy.address}', priority: 10}}\n  - {{address: '{spare.address}'}}\n"
    )
    router = start_router(config)
    try:
        await wait_routable(router.address, 2)
        proxy.set_mode("stall")  # the next jobs reach the provider's host but no event comes back
        async with PrizmClient(router.address) as client:
            jobs = [
                asyncio.create_task(client.run("text-to-text", f"job {i}", options={"events": 2}, timeout=20))
                for i in range(10)
            ]
            await asyncio.sleep(0.3)
            assert not any(job.done() for job in jobs)
            proxy.reset()  # the host dies: every connection to it is reset
            dying.signal(signal.SIGKILL)
            results = await asyncio.gather(*jobs, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        figures["failover_before_commit_failures_of_10"] = len(failures)
        assert failures == []
        for i, result in enumerate(results):
            assert not isinstance(result, BaseException)
            assert result.outputs[0].data == synthetic_output(f"job {i}".encode(), 1024)
        assert (await status(spare.address)).finished_jobs == 10
    finally:
        proxy.close()
        for server in (router, dying, spare):
            server.stop()


async def test_a_provider_killed_mid_job_gives_provider_crashed_and_no_rerun(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 2) as (router, providers):
        await wait_routable(router.address, 2)
        seen: list[int] = []
        async with PrizmClient(router.address) as client:
            with pytest.raises(PrizmError) as failure:
                async for event in client.stream("text-to-text", "doomed", options=SLOW, timeout=30):
                    seen.append(event.sequence)
                    if (
                        isinstance(event, Progress)
                        and event.stage == "synthetic"
                        and event.message.startswith("event 5/")
                    ):
                        victim = await _running_on(providers)
                        victim.signal(signal.SIGKILL)
        assert failure.value.code == grpc.StatusCode.UNAVAILABLE
        assert failure.value.reason == "PROVIDER_CRASHED"
        assert failure.value.metadata["job_id"]
        assert failure.value.metadata["events_relayed"] == str(len(seen))
        assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 6
        survivor = next(p for p in providers if p is not victim)
        survivor_status = await status(survivor.address)
        assert (survivor_status.active_jobs, survivor_status.finished_jobs) == (0, 0), "the job was rerun"


async def _running_on(providers: list[object]) -> object:
    for provider in providers:
        if (await status(provider.address)).active_jobs:  # type: ignore[attr-defined]
            return provider
    raise AssertionError("no provider runs the job")


async def test_a_caller_that_allows_a_restart_gets_the_job_done_elsewhere(tmp_config: Path) -> None:
    with synthetic_mesh(tmp_config, 2) as (router, providers):
        await wait_routable(router.address, 2)
        events: list[Event] = []
        routing = router_pb.RoutingHints(allow_restart=True)
        async with PrizmClient(router.address) as client:
            async for event in client.stream(
                "text-to-text", "again", options=SLOW, routing=routing, timeout=30
            ):
                events.append(event)
                if isinstance(event, Progress) and event.message.startswith("event 5/") and len(events) < 10:
                    victim = await _running_on(providers)
                    victim.signal(signal.SIGKILL)
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert len({e.job_id for e in events}) == 1
        notices = [e for e in events if isinstance(e, Progress) and e.stage == "restart"]
        assert len(notices) == 1 and "running the job again" in notices[0].message
        data = b"".join(e.data for e in events if isinstance(e, OutputChunk))
        assert data == synthetic_output(b"again", 2048)
        survivor = next(p for p in providers if p is not victim)
        assert (await status(survivor.address)).finished_jobs == 1


async def test_a_provider_failing_every_call_is_not_hammered(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    with synthetic_mesh(tmp_config, 2) as (router, providers):
        await wait_routable(router.address, 2)
        for provider in providers:
            await configure(provider.address, refuse="UNAVAILABLE")
        requests = 100
        async with PrizmClient(router.address, max_attempts=1) as client:
            for _ in range(requests):
                with pytest.raises(PrizmError) as failure:
                    await client.run("text-to-text", "no", options={"events": 1}, timeout=10)
                assert failure.value.code == grpc.StatusCode.UNAVAILABLE
                assert failure.value.reason in {"REFUSED_ON_PURPOSE", "NO_HEALTHY_PROVIDER"}
            states = sorted(e.state for e in await client.list_providers())
        # One replica is ejected for its failures; the other is kept, as the last of its capability.
        assert states == [router_pb.ENDPOINT_STATE_SERVING, router_pb.ENDPOINT_STATE_EJECTED]
        attempts = sum([(await status(p.address)).rejected_jobs for p in providers])
    figures["attempts_per_request_at_100pct_failure"] = round(attempts / requests, 3)
    assert requests <= attempts <= 1.2 * requests


async def test_when_every_provider_is_down_calls_fail_fast_with_retry_info(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    with synthetic_mesh(tmp_config, 2) as (router, providers):
        await wait_routable(router.address, 2)
        async with ChangeLog(router.address) as log:
            killed = time.monotonic()
            for provider in providers:
                provider.signal(signal.SIGKILL)
            for provider in providers:
                await log.wait_for(provider.address, NOT_SERVING, killed, timeout=5)
        async with PrizmClient(router.address, max_attempts=1) as client:
            await client.list_providers()  # connect first: measure the routing, not the dial
            started = time.monotonic()
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-text", "anyone?", timeout=10)
            took = time.monotonic() - started
    figures["fail_fast_all_down_ms"] = round(took * 1000, 1)
    assert failure.value.code == grpc.StatusCode.UNAVAILABLE
    assert failure.value.reason == "NO_HEALTHY_PROVIDER"
    assert failure.value.retry_after_s is not None and failure.value.retry_after_s > 0
    assert took < 0.05


async def test_a_dead_provider_on_the_config_does_not_block_the_router(tmp_path: Path) -> None:
    alive = start_provider("synthetic")
    router = start_router(write_config(tmp_path / "router.yaml", ["127.0.0.1:1", alive.address]))
    try:
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            result = await client.run("text-to-text", "fine", options={"events": 1}, timeout=5)
            endpoints = {e.address: e.state for e in await client.list_providers()}
        assert result.outputs[0].data == synthetic_output(b"fine", 1024)
        assert endpoints["127.0.0.1:1"] == router_pb.ENDPOINT_STATE_PENDING
    finally:
        router.stop()
        alive.stop()


def _bad_requests(count: int) -> list[router_pb.RouterServiceTransformRequest]:
    """Requests wrong in what the caller chose: every provider answers them INVALID_ARGUMENT."""
    made = []
    for n in range(count):
        # The provider named, so its own validation answers: unnamed, the router refuses bad options
        # itself, from the catalogs, and no replica would see them.
        request = router_pb.RouterServiceTransformRequest(
            capability=media_pb.CAPABILITY_TEXT_TO_TEXT,
            inputs=[text_asset(f"bad {n}")],
            routing=router_pb.RoutingHints(provider="synthetic"),
        )
        match n % 6:
            case 0:
                request.options.update({"events": -1})  # out of range
            case 1:
                request.options.update({"bogus": 1})  # unknown
            case 2:
                request.options.fields["events"].Clear()  # a Value with no kind, as a JS client sends
            case 3:
                request.options.update({"events": "ten"})  # wrong type
            case 4:
                request.options.update({"interval_ms": [1, 2]})  # a list
            case _:
                del request.inputs[:]  # no input
        made.append(request)
    return made


async def test_a_caller_sending_bad_requests_ejects_no_replica(
    tmp_config: Path, figures: dict[str, object]
) -> None:
    with synthetic_mesh(tmp_config, 2) as (router, providers):
        await wait_routable(router.address, 2)
        async with ChangeLog(router.address) as log, insecure_channel(router.address) as channel:
            stub = router_grpc.RouterServiceStub(channel)
            codes = []
            for request in _bad_requests(200):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    async for _ in stub.Transform(request, timeout=10):
                        pass
                codes.append(refused.value.code())
            assert set(codes) == {grpc.StatusCode.INVALID_ARGUMENT}
            async with PrizmClient(router.address) as client:
                endpoints = await client.list_providers()
            assert [e.state for e in endpoints] == [router_pb.ENDPOINT_STATE_SERVING] * 2
            ejections = [state for _, _, state in log.changes].count(router_pb.ENDPOINT_STATE_EJECTED)
            figures["bad_requests_200_ejections"] = ejections
            assert ejections == 0
        refused_by = [(await status(p.address)).rejected_jobs for p in providers]
        assert sum(refused_by) == 200 and min(refused_by) > 0, refused_by  # both replicas saw them
