"""A rolling restart of a provider's two replicas under steady load loses no call."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import ChangeLog
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider, start_router, write_config

pytestmark = pytest.mark.faults

LOAD_S = 62.0
WORKERS = 4
# Each replica restarts every ~14 s: more than the router's flap window, so each comes back at once.
PAUSE_S = 6.0


async def _load(router: str, until: float, outcomes: list[str]) -> None:
    async with PrizmClient(router) as client:
        n = 0
        while time.monotonic() < until:
            n += 1
            text = f"call {n}"
            try:
                result = await client.run(
                    "text-to-text", text, options={"events": 3, "interval_ms": 20}, timeout=20
                )
            except PrizmError as exc:
                outcomes.append(f"{exc.code.name} {exc.reason}: {exc.message}")
                continue
            ok = result.outputs[0].data == synthetic_output(text.encode(), 1024)
            outcomes.append("ok" if ok else "wrong output")


async def _restart(replica: ServerProcess, log: ChangeLog) -> ServerProcess:
    port = replica.address.rsplit(":", 1)[1]
    replica.signal(signal.SIGTERM)
    assert await asyncio.to_thread(replica.process.wait, 20) == 0
    restarted = start_provider("synthetic", "--port", port)
    await log.wait_for(restarted.address, router_pb.ENDPOINT_STATE_SERVING, time.monotonic(), timeout=10)
    return restarted


async def test_rolling_restart_under_load_fails_no_call(tmp_path: Path, figures: dict[str, object]) -> None:
    replicas = [start_provider("synthetic"), start_provider("synthetic")]
    router = start_router(write_config(tmp_path / "router.yaml", [r.address for r in replicas]))
    try:
        await wait_routable(router.address, 2)
        outcomes: list[str] = []
        until = time.monotonic() + LOAD_S
        async with ChangeLog(router.address) as log:
            load = [asyncio.create_task(_load(router.address, until, outcomes)) for _ in range(WORKERS)]
            restarts = 0
            while time.monotonic() < until - PAUSE_S:
                await asyncio.sleep(PAUSE_S)
                which = restarts % 2
                replicas[which] = await _restart(replicas[which], log)
                restarts += 1
            await asyncio.gather(*load)
        failures = [o for o in outcomes if o != "ok"]
        figures["rolling_restart_calls"] = len(outcomes)
        figures["rolling_restart_restarts"] = restarts
        figures["rolling_restart_failed_calls"] = len(failures)
        assert restarts >= 6
        assert len(outcomes) > 1000
        assert failures == []
    finally:
        for server in (router, *replicas):
            server.stop()
