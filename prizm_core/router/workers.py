"""Several router processes on one port (SO_REUSEPORT): the kernel spreads connections over them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Sequence

from prizm_core.config import ConfigError, RouterConfig, parse_address
from prizm_core.serving import announce_listening, ensure_free, stop_signal

__all__ = ["run_workers"]

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _listening(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None  # noqa: S101 - spawned with stdout=PIPE
    while line := await process.stdout.readline():
        with contextlib.suppress(ValueError):
            if json.loads(line).get("event") == "listening":
                return
    raise RuntimeError("a router worker exited before listening")


async def run_workers(config: RouterConfig, worker_args: Sequence[str], workers: int) -> int:
    """Starts `workers` routers with `worker_args` on the config's address; stops them on SIGTERM.

    Each worker is a whole router with its own health checks. Connections, not
    calls, are spread: a caller needs several connections to use several workers.
    Sidecars and self-registration need one router, so they are refused here.
    """
    if config.sidecars:
        raise ConfigError("--workers cannot launch sidecars; list providers or use DNS discovery")
    host, port = parse_address(config.listen)
    ensure_free(host, port)  # the workers share the port with each other, with nothing else
    port = port or _free_port(host)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    command = [sys.executable, "-m", "prizm_core.cli", "router", *worker_args, "--listen", address]
    processes = [
        await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE, start_new_session=True)
        for _ in range(workers)
    ]
    stop = stop_signal()
    try:
        await asyncio.wait_for(asyncio.gather(*(_listening(p) for p in processes)), 60)
        announce_listening(address, role="router", workers=str(workers))
        log.info("%d router workers serving on %s", workers, address)
        await stop.wait()
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(p.wait() for p in processes))
    return max(codes)
