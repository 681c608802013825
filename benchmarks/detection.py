"""Failure detection: time until the router stops routing to a killed, stopped, hung or blocked provider.

Only the router is measured: direct calls have no health checking, and open-source
nginx only notices a dead upstream on the next failed request (`max_fails`).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

from prizm.v1 import router_service_pb2 as router_pb

from benchmarks.processes import start_provider, start_router, write_config
from benchmarks.stats import summary
from tests.support.control import ChangeLog, configure, service
from tests.support.mesh import wait_routable

__all__ = ["failure_detection"]

SERVING = router_pb.ENDPOINT_STATE_SERVING
NOT_SERVING = router_pb.ENDPOINT_STATE_NOT_SERVING
EJECTED = router_pb.ENDPOINT_STATE_EJECTED


async def failure_detection(workdir: Path, repeats: int) -> dict[str, Any]:
    """Detection time (ms) per fault, `repeats` times each, two replicas behind one router."""
    victim, spare = start_provider("synthetic"), start_provider("synthetic")
    port = victim.address.rsplit(":", 1)[1]
    router = start_router(write_config(workdir / "detect.yaml", [victim.address, spare.address]))
    times: dict[str, list[float]] = {"killed": [], "not_serving": [], "hung": [], "blocked_loop": []}
    try:
        await wait_routable(router.address, 2)
        async with ChangeLog(router.address) as log:
            for repeat in range(repeats):
                await asyncio.sleep(0.5)
                start = time.monotonic()
                await service(victim.address, running=False)
                times["not_serving"].append(await log.wait_for(victim.address, NOT_SERVING, start, 5) - start)
                await service(victim.address, running=True)
                await log.wait_for(victim.address, SERVING, start, 15)

                await asyncio.sleep(0.5)
                start = time.monotonic()
                victim.signal(signal.SIGSTOP)
                times["hung"].append(await log.wait_for(victim.address, EJECTED, start, 5) - start)
                victim.signal(signal.SIGCONT)
                await log.wait_for(victim.address, SERVING, start, 15)

                await asyncio.sleep(0.5)
                start = time.monotonic()
                blocking = asyncio.create_task(configure(victim.address, block_loop_s="2"))
                times["blocked_loop"].append(await log.wait_for(victim.address, EJECTED, start, 5) - start)
                await blocking
                await log.wait_for(victim.address, SERVING, start, 15)

                await asyncio.sleep(0.5)
                start = time.monotonic()
                victim.signal(signal.SIGKILL)
                times["killed"].append(await log.wait_for(victim.address, NOT_SERVING, start, 5) - start)
                victim.process.wait()
                victim = start_provider("synthetic", "--port", port)
                await log.wait_for(victim.address, SERVING, start, 15)
                if repeat < repeats - 1:
                    await asyncio.sleep(11)  # past the flap window, so the next round starts fresh
    finally:
        for server in (router, victim, spare):
            server.stop()
    return {fault: summary([t * 1000 for t in values]) for fault, values in times.items()}
