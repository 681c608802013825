"""A caller that cancels, before the first event or after some, or dies, stops the provider's job."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from tests.support.control import status
from tests.support.fault_proxy import FaultProxy
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import ServerProcess, start_provider, start_router, synthetic_mesh, write_config

pytestmark = pytest.mark.faults

LONG = {"events": 200, "interval_ms": 50}


async def _stopped_within(provider: ServerProcess, since: float) -> float:
    async def idle() -> bool:
        return (await status(provider.address)).active_jobs == 0

    await wait_until(idle, timeout=5)
    return time.monotonic() - since


async def test_cancel_before_the_first_event_and_after_some(
    tmp_path: Path, figures: dict[str, object]
) -> None:
    provider = start_provider("synthetic")
    proxy = FaultProxy(provider.address).start()
    router = start_router(write_config(tmp_path / "router.yaml", [proxy.address]))
    try:
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            await client.list_providers()
            # The job reaches the provider at once, but its events take 0.8 s to come back
            # (under the 1 s ping timeout, which would otherwise drop the connection).
            proxy.set_mode("delay", delay_s=0.8, responses_only=True)
            heard: list[object] = []
            job = asyncio.create_task(
                client.run("text-to-text", "never mind", options=LONG, timeout=30, on_event=heard.append)
            )

            async def running() -> bool:
                return (await status(provider.address)).active_jobs == 1

            await wait_until(running, timeout=0.5)
            assert heard == [], "the caller must not have had an event yet"
            job.cancel()
            cancelled = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await job
            early = await _stopped_within(provider, cancelled)
            proxy.set_mode("pass")
            await wait_routable(router.address, 1)  # the delayed health checks had ejected it
            seen = 0
            async for event in client.stream("text-to-text", "enough", options=LONG, timeout=30):
                seen += isinstance(event, Progress)
                if seen == 5:
                    break
            late = await _stopped_within(provider, time.monotonic())
    finally:
        proxy.close()
        router.stop()
        provider.stop()
    figures["cancel_before_first_event_stop_ms"] = round(early * 1000, 1)
    figures["cancel_after_5_events_stop_ms"] = round(late * 1000, 1)
    assert early < 0.5 and late < 0.5


async def test_a_caller_process_that_dies_stops_the_job(tmp_config: Path, figures: dict[str, object]) -> None:
    with synthetic_mesh(tmp_config, 1) as (router, (provider,)):
        await wait_routable(router.address, 1)
        script = textwrap.dedent(
            f"""
            import asyncio
            from prizm_core.client import PrizmClient

            async def main():
                async with PrizmClient({router.address!r}) as client:
                    async for event in client.stream("text-to-text", "orphan", options={LONG!r}):
                        print(event.sequence, flush=True)

            asyncio.run(main())
            """
        )
        command = [sys.executable, "-c", script]
        caller = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
        try:
            assert caller.stdout is not None
            while caller.stdout.readline().strip() != "3":  # three events in
                pass
            assert (await status(provider.address)).active_jobs == 1
            caller.send_signal(signal.SIGKILL)
            died = time.monotonic()
            stopped = await _stopped_within(provider, died)
        finally:
            caller.kill()
            caller.wait()
    figures["caller_killed_stop_ms"] = round(stopped * 1000, 1)
    assert stopped < 0.5
