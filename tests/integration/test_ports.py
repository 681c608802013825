"""A router or provider refuses an address in use, in one line; `--workers` routers still share theirs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from provider_servers.synthetic.provider import synthetic_output
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import start_provider, start_router, start_server, write_config


def _second(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs a second server that should refuse to start; returns how it ended."""
    command = [sys.executable, "-m", "prizm_core.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "cannot listen on" in line]


async def test_a_second_router_or_provider_on_a_port_in_use_refuses_to_start(tmp_path: Path) -> None:
    provider = start_provider("synthetic")
    router = start_router(write_config(tmp_path / "router.yaml", [provider.address]))
    try:
        for args in (
            ("router", "--listen", router.address),
            ("up", "--listen", router.address),
            ("serve-provider", "synthetic", "--port", provider.address.rsplit(":", 1)[1]),
            ("router", "--listen", provider.address, "--workers", "2"),
        ):
            second = _second(*args)
            assert second.returncode != 0, (args, second.stderr)
            (line,) = _error_lines(second.stderr)
            assert "Address already in use" in line, line
            assert '"event": "listening"' not in second.stdout
        # The first ones never noticed: every call still lands on them.
        async with PrizmClient(router.address) as client:
            await wait_routable(router.address, 1)
            results = await asyncio.gather(
                *(client.run("text-to-text", f"n{n}", options={"events": 1}, timeout=10) for n in range(20))
            )
        assert [r.outputs[0].data for r in results] == [
            synthetic_output(f"n{n}".encode(), 1024) for n in range(20)
        ]
    finally:
        for server in (router, provider):
            server.stop()


async def test_workers_share_their_port(tmp_path: Path) -> None:
    provider = start_provider("synthetic")
    config = write_config(tmp_path / "router.yaml", [provider.address])
    router = start_server(
        [sys.executable, "-m", "prizm_core.cli", "router", "--listen", "127.0.0.1:0", "--workers", "2",
         "--config", str(config)]
    )  # fmt: skip
    try:
        await wait_routable(router.address, 1)
        async with PrizmClient(router.address) as client:
            # Each worker watches the provider itself: the one this connection reached may not serve yet.
            waiting = router_pb.RoutingHints(wait_for_ready=True)
            result = await client.run(
                "text-to-text", "shared", options={"events": 1}, routing=waiting, timeout=10
            )
        assert result.outputs[0].data == synthetic_output(b"shared", 1024)

        async def both_serving() -> bool:
            return router.log_text().count(f"router serving on {router.address}") == 2

        await wait_until(both_serving, timeout=10)
    finally:
        router.stop()
        provider.stop()
