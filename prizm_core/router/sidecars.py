"""Providers the router launches as child processes on loopback, restarted on the same port.

Each child's port is chosen before it starts, so the router lists it (by name)
and can wait for it while it imports and warms up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Protocol

from prizm_core.config import SidecarSpec
from prizm_core.serving import EXIT_UNAVAILABLE
from prizm_core.telemetry.json_logs import log_format_in_use

__all__ = ["Sidecar", "SidecarHooks", "SidecarManager"]

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
    # Why it cannot run on this machine (it exited with EXIT_UNAVAILABLE): never restarted.
    skipped: str = ""
    # How its last run ended, while it is being restarted.
    exited: str = ""

    @property
    def name(self) -> str:
        """`provider#replica` (or `label#replica`), for logs."""
        return f"{self.spec.shown_name}#{self.replica}"


class SidecarHooks(Protocol):
    """What the router does as its sidecars come and go."""

    def placed(self, sidecar: Sidecar, previous: str) -> None:
        """The sidecar will listen on `sidecar.address` (`previous`: its address before, if it moved)."""

    def listening(self, sidecar: Sidecar) -> None:
        """The process listens on `sidecar.address` now."""

    def exited(self, sidecar: Sidecar) -> None:
        """The process ended: it is skipped for good (`sidecar.skipped`) or restarted soon."""


def _free_port() -> int:
    """A loopback port free now, for a child to listen on (if taken meanwhile, the child exits and
    the next start picks another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _listening_address(process: asyncio.subprocess.Process, sidecar: Sidecar) -> str:
    """Reads the child's stdout until its `listening` announcement; notes why it cannot run, if it says."""
    assert process.stdout is not None  # noqa: S101 - spawned with stdout=PIPE
    while line := await process.stdout.readline():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "listening":
            return str(event["address"])
        if isinstance(event, dict) and event.get("event") == "unavailable":
            sidecar.skipped = str(event.get("reason", ""))
    raise RuntimeError("exited before listening")


async def _drain(process: asyncio.subprocess.Process, name: str) -> None:
    assert process.stdout is not None  # noqa: S101 - spawned with stdout=PIPE
    while line := await process.stdout.readline():
        log.info("%s: %s", name, line.decode(errors="replace").rstrip())


class SidecarManager:
    """Starts, supervises and stops the router's child providers."""

    def __init__(self, hooks: SidecarHooks, grace_s: float) -> None:
        self._hooks = hooks
        self._grace_s = grace_s
        self._sidecars: list[Sidecar] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self, spec: SidecarSpec) -> None:
        """Launches `spec.replicas` processes of a provider and keeps them running.

        Each is placed on its port at once, so the router lists it before its process has started.
        """
        for replica in range(spec.replicas):
            sidecar = Sidecar(spec=spec, replica=replica)
            self._place(sidecar)
            self._sidecars.append(sidecar)
            self._tasks.append(asyncio.create_task(self._supervise(sidecar), name=f"sidecar {sidecar.name}"))

    async def _spawn(self, sidecar: Sidecar) -> asyncio.subprocess.Process:
        # A restart reuses the port, so the router's endpoint (and its channel) stays the same.
        port = sidecar.address.rpartition(":")[2]
        command = [
            sidecar.spec.python or sys.executable,
            "-m", "prizm_core.cli", "serve-provider", sidecar.spec.provider,
            "--host", "127.0.0.1", "--port", port, "--parent-pid", str(os.getpid()),
            # The router's format, for one format in one stream; only when JSON, so a provider
            # venv of an older Prizm (`spec.python`) still starts under a text router.
            *(["--log-format", "json"] if log_format_in_use() == "json" else []),
            *sidecar.spec.args,
        ]  # fmt: skip
        # Own session: a terminal's Ctrl-C reaches the router only, which then stops children in order.
        env = {**os.environ, **dict(sidecar.spec.env)} if sidecar.spec.env else None
        return await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, start_new_session=True, env=env
        )

    def _place(self, sidecar: Sidecar) -> None:
        previous, sidecar.address = sidecar.address, f"127.0.0.1:{_free_port()}"
        self._hooks.placed(sidecar, previous)

    async def _run_once(self, sidecar: Sidecar) -> tuple[int, bool]:
        """Starts the sidecar's process and follows it until it exits.

        Returns:
            Its exit status, and whether it ever listened.
        """
        process = sidecar.process = await self._spawn(sidecar)
        try:
            address = await asyncio.wait_for(_listening_address(process, sidecar), LISTEN_TIMEOUT_S)
        except (TimeoutError, RuntimeError, KeyError) as exc:
            if not sidecar.skipped:  # a skipped one said why; its exit is logged below
                log.error("sidecar %s did not start listening: %s", sidecar.name, exc)
            await self._kill(process)
            return await process.wait(), False
        log.info("sidecar %s (pid %d) listening on %s", sidecar.name, process.pid, address)
        self._hooks.listening(sidecar)
        await _drain(process, sidecar.name)
        return await process.wait(), True

    async def _supervise(self, sidecar: Sidecar) -> None:
        while not self._stopping:
            code, listened = await self._run_once(sidecar)
            if self._stopping:
                return
            if code == EXIT_UNAVAILABLE:
                sidecar.skipped = sidecar.skipped or "not available here"
                log.warning(
                    "sidecar %s is not available here (%s); not restarting", sidecar.name, sidecar.skipped
                )
                self._hooks.exited(sidecar)
                return
            sidecar.skipped = ""  # only a process that then exits EXIT_UNAVAILABLE is skipped
            sidecar.exited = f"exited with {code}"
            delay = _RESTART_BACKOFF_S[min(sidecar.restarts, len(_RESTART_BACKOFF_S) - 1)]
            sidecar.restarts += 1
            log.warning("sidecar %s exited with %s; restarting in %.1f s", sidecar.name, code, delay)
            self._hooks.exited(sidecar)
            if not listened:
                self._place(sidecar)  # its port may have been taken: the next start takes a free one
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
