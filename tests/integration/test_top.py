"""`prizm top` against a live router: the mesh from WatchProviders, rates from its `/metrics`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from prizm_core.client import PrizmClient
from tests.support.mesh import wait_routable
from tests.support.metrics import free_port
from tests.support.processes import ServerProcess, start_provider, start_router, write_config

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, int]]:
    """A router with its metrics on a free port, in front of one synthetic provider."""
    provider = start_provider("synthetic")
    port = free_port()
    config = write_config(tmp_path_factory.mktemp("top") / "router.yaml", [provider.address])
    router = start_router(config, "--metrics-port", str(port))
    try:
        yield router, port
    finally:
        router.stop()
        provider.stop()


async def _top(*args: str) -> str:
    command = [sys.executable, "-m", "prizm_core.cli", "top", *args]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _row(screen: str, provider: str) -> list[str]:
    rows = [line.split() for line in screen.splitlines() if line.split()[:1] == [provider]]
    assert len(rows) == 1, screen
    return rows[0]


async def test_the_view_shows_the_endpoint_and_the_rate_of_jobs_going_through(
    mesh: tuple[ServerProcess, int],
) -> None:
    router, port = mesh
    await wait_routable(router.address, 1)
    async with PrizmClient(router.address) as client:
        await client.run("text-to-text", "warm")
        stop = asyncio.Event()

        async def load() -> int:
            done = 0
            while not stop.is_set():
                await client.run("text-to-text", f"job {done}")
                done += 1
            return done

        jobs = asyncio.create_task(load())
        screen = await _top(
            "--router", router.address, "--metrics", f"127.0.0.1:{port}", "--once", "--interval", "1.5"
        )
        stop.set()
        assert await jobs > 0
    header = screen.splitlines()[0]
    assert header.startswith(f"router {router.address} · 1/1 endpoints serving")
    _provider, address, state, _since, in_flight, per_second, failed = _row(screen, "synthetic")[:7]
    assert (state, failed) == ("serving", "0.0")
    assert float(per_second) > 0, screen  # jobs ran while top watched
    assert int(in_flight) in (0, 1)
    assert address.startswith("127.0.0.1:")


async def test_without_metrics_it_says_how_to_get_rates(mesh: tuple[ServerProcess, int]) -> None:
    router, _ = mesh
    await wait_routable(router.address, 1)
    screen = await _top("--router", router.address, "--iterations", "2", "--interval", "0.2")
    assert "pass --metrics HOST:PORT" in screen
    assert _row(screen, "synthetic")[2:3] == ["serving"]
    assert _row(screen, "synthetic")[5:7] == ["-", "-"]


async def test_a_router_that_is_not_there_is_said_not_hidden() -> None:
    screen = await _top("--router", f"127.0.0.1:{free_port()}", "--once", "--interval", "0.5")
    assert "0/0 endpoints serving" in screen
    assert "watch: UNAVAILABLE" in screen
