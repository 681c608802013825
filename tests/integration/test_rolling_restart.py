"""A rolling restart of a provider's two replicas under steady load loses no call, whatever found them.

Each discovery source restarts replicas its own way, as it happens in production:
- static: a replica gets SIGTERM and comes back on the same address;
- sidecar: the router's child gets SIGTERM and the router starts it again on the same port;
- registered: a replica gets SIGTERM (so it deregisters) and a new one registers on the same address;
- DNS: a new replica appears under the name on a new address, then the old one leaves the name and
  gets SIGTERM at the same moment (a Kubernetes rollout with a surge of one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import ChangeLog
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import (
    ServerProcess,
    children,
    start_provider,
    start_router,
    start_server,
    write_config,
)

pytestmark = pytest.mark.faults

LOAD_S = 62.0
WORKERS = 4
# Each replica restarts every ~14 s: more than the router's flap window, so each comes back at once.
PAUSE_S = 6.0
SERVING = router_pb.ENDPOINT_STATE_SERVING

Restart = Callable[[ChangeLog], Awaitable[None]]


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


async def _exited(replica: ServerProcess) -> None:
    assert await asyncio.to_thread(replica.process.wait, 20) == 0


def _port(address: str) -> str:
    return address.rsplit(":", 1)[1]


@contextlib.asynccontextmanager
async def _static(tmp_path: Path) -> AsyncIterator[tuple[str, Restart]]:
    replicas = [start_provider("synthetic"), start_provider("synthetic")]
    router = start_router(write_config(tmp_path / "router.yaml", [r.address for r in replicas]))

    async def restart(log: ChangeLog) -> None:
        old = replicas.pop(0)
        old.signal(signal.SIGTERM)
        await _exited(old)
        replicas.append(start_provider("synthetic", "--port", _port(old.address)))
        await log.wait_for(replicas[-1].address, SERVING, time.monotonic(), timeout=10)

    try:
        yield router.address, restart
    finally:
        for server in (router, *replicas):
            server.stop()


@contextlib.asynccontextmanager
async def _sidecar(tmp_path: Path) -> AsyncIterator[tuple[str, Restart]]:
    config = write_config(tmp_path / "router.yaml", [], sidecars=[{"provider": "synthetic", "replicas": 2}])
    router = start_router(config)
    restarted: list[int] = []

    async def restart(log: ChangeLog) -> None:
        # The oldest child first, so the two replicas take turns.
        pid = next(p for p in children(router.pid, "serve-provider") if p not in restarted)
        restarted.append(pid)
        since = time.monotonic()
        os.kill(pid, signal.SIGTERM)

        async def went_down() -> bool:
            return any(at >= since and state != SERVING for at, _, state in log.changes)

        await wait_until(went_down, timeout=10)
        await wait_routable(router.address, 2, timeout=20)
        assert pid not in children(router.pid, "serve-provider")

    try:
        yield router.address, restart
    finally:
        router.stop()


@contextlib.asynccontextmanager
async def _registered(tmp_path: Path) -> AsyncIterator[tuple[str, Restart]]:
    router = start_router()
    joined = ("--register", router.address, "--lease", "5")
    replicas = [start_provider("synthetic", *joined), start_provider("synthetic", *joined)]

    async def restart(log: ChangeLog) -> None:
        old = replicas.pop(0)
        old.signal(signal.SIGTERM)  # it deregisters, then drains its jobs
        await _exited(old)
        replicas.append(start_provider("synthetic", "--port", _port(old.address), *joined))
        await log.wait_for(replicas[-1].address, SERVING, time.monotonic(), timeout=10)

    try:
        yield router.address, restart
    finally:
        for server in (*replicas, router):
            server.stop()


@contextlib.asynccontextmanager
async def _dns(tmp_path: Path) -> AsyncIterator[tuple[str, Restart]]:
    replicas = [start_provider("synthetic"), start_provider("synthetic")]
    answers = tmp_path / "answers"

    def publish() -> None:
        answers.write_text("".join(f"{r.address}\n" for r in replicas), encoding="utf-8")

    publish()
    config = write_config(
        tmp_path / "router.yaml", [], dns=[{"name": "synthetic.prizm.test", "port": 1, "interval_s": 0.2}]
    )
    router = start_server([sys.executable, "-m", "tests.support.dns_router", str(config), str(answers)])

    async def restart(log: ChangeLog) -> None:
        new = start_provider("synthetic")
        replicas.append(new)
        publish()
        await log.wait_for(new.address, SERVING, time.monotonic() - 1, timeout=10)
        old = replicas.pop(0)
        publish()
        old.signal(signal.SIGTERM)
        await _exited(old)

    try:
        yield router.address, restart
    finally:
        for server in (router, *replicas):
            server.stop()


SOURCES = {"static": _static, "sidecar": _sidecar, "registered": _registered, "dns": _dns}


@pytest.mark.parametrize("source", SOURCES)
async def test_rolling_restart_under_load_fails_no_call(
    source: str, tmp_path: Path, figures: dict[str, object]
) -> None:
    async with SOURCES[source](tmp_path) as (router, restart):
        await wait_routable(router, 2)
        outcomes: list[str] = []
        until = time.monotonic() + LOAD_S
        async with ChangeLog(router) as log:
            load = [asyncio.create_task(_load(router, until, outcomes)) for _ in range(WORKERS)]
            restarts = 0
            while time.monotonic() < until - PAUSE_S:
                await asyncio.sleep(PAUSE_S)
                await restart(log)
                restarts += 1
            await asyncio.gather(*load)
    failures = [o for o in outcomes if o != "ok"]
    figures[f"rolling_restart_{source}_calls"] = len(outcomes)
    figures[f"rolling_restart_{source}_restarts"] = restarts
    figures[f"rolling_restart_{source}_failed_calls"] = len(failures)
    assert restarts >= 6
    assert len(outcomes) > 1000
    assert failures == []
