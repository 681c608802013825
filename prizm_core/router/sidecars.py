"""Providers the router launches as child processes on loopback, restarted on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from prizm_core.config import SidecarSpec
from prizm_core.serving import EXIT_UNAVAILABLE

__all__ = ["Sidecar", "SidecarManager"]

log = logging.getLogger(__name__)

LISTEN_TIMEOUT_S = 60.0
_RESTART_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(eq=False)
class Sidecar:
    """One launched provider process."""

    spec: SidecarSpec
    replica: int
    process: asyncio.subprocess.Process | None = None
    address: str = ""
    restarts: int = 0

    @property
    def name(self) -> str:
        """`provider#replica`, for logs."""
        return f"{self.spec.provider}#{self.replica}"


async def _listening_address(process: asyncio.subprocess.Process) -> str:
    """Reads the child's stdout until its `listening` announcement."""
    assert process.stdout is not None  # noqa: S101 - spawned with stdout=PIPE
    while line := await process.stdout.readline():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "listening":
            return str(event["address"])
    raise RuntimeError("exited before listening")


async def _drain(process: asyncio.subprocess.Process, name: str) -> None:
    assert process.stdout is not None  # noqa: S101 - spawned with stdout=PIPE
    while line := await process.stdout.readline():
        log.info("%s: %s", name, line.decode(errors="replace").rstrip())


class SidecarManager:
    """Starts, supervises and stops the router's child providers."""

    def __init__(self, on_listening: Callable[[Sidecar, str], None], grace_s: float) -> None:
        self._on_listening = on_listening
        self._grace_s = grace_s
        self._sidecars: list[Sidecar] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self, spec: SidecarSpec) -> None:
        """Launches `spec.replicas` processes of a provider and keeps them running."""
        for replica in range(spec.replicas):
            sidecar = Sidecar(spec=spec, replica=replica)
            self._sidecars.append(sidecar)
            self._tasks.append(asyncio.create_task(self._supervise(sidecar), name=f"sidecar {sidecar.name}"))

    async def _spawn(self, sidecar: Sidecar) -> asyncio.subprocess.Process:
        # A restart reuses the port, so the router's endpoint (and its channel) stays the same.
        port = sidecar.address.rpartition(":")[2] if sidecar.address else "0"
        command = [
            sys.executable, "-m", "prizm_core.cli", "serve-provider", sidecar.spec.provider,
            "--host", "127.0.0.1", "--port", port, "--parent-pid", str(os.getpid()),
            *sidecar.spec.args,
        ]  # fmt: skip
        # Own session: a terminal's Ctrl-C reaches the router only, which then stops children in order.
        return await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, start_new_session=True
        )

    async def _supervise(self, sidecar: Sidecar) -> None:
        while not self._stopping:
            process = sidecar.process = await self._spawn(sidecar)
            previous = sidecar.address
            try:
                sidecar.address = await asyncio.wait_for(_listening_address(process), LISTEN_TIMEOUT_S)
            except (TimeoutError, RuntimeError, KeyError) as exc:
                log.error("sidecar %s did not start listening: %s", sidecar.name, exc)
                # Its old port may be taken now: let the next start pick a free one.
                sidecar.address = ""
                await self._kill(process)
            else:
                log.info(
                    "sidecar %s (pid %d) listening on %s",
                    sidecar.name,
                    process.pid,
                    sidecar.address,
                )
                self._on_listening(sidecar, previous)
                await _drain(process, sidecar.name)
            code = await process.wait()
            if self._stopping:
                return
            if code == EXIT_UNAVAILABLE:
                log.warning(
                    "sidecar %s is not available here (see its message above); not restarting",
                    sidecar.name,
                )
                return
            delay = _RESTART_BACKOFF_S[min(sidecar.restarts, len(_RESTART_BACKOFF_S) - 1)]
            sidecar.restarts += 1
            log.warning("sidecar %s exited with %s; restarting in %.1f s", sidecar.name, code, delay)
            await asyncio.sleep(delay)

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()

    async def stop(self) -> None:
        """SIGTERM to every child, then SIGKILL to those still running after the grace period."""
        self._stopping = True
        running = [s.process for s in self._sidecars if s.process and s.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), self._grace_s + 2.0)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.warning("sidecar pid %d ignored SIGTERM; killing it", process.pid)
                    await self._kill(process)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def sidecars(self) -> list[Sidecar]:
        """Every launched sidecar."""
        return list(self._sidecars)
