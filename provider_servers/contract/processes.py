"""Prizm servers as real subprocesses on loopback, their logs captured, and their child processes."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerProcess", "children", "descendants", "start_provider", "start_server"]

START_TIMEOUT_S = 60.0


def _pump(stream: Iterable[bytes], sink: queue.Queue[str] | list[str]) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        if isinstance(sink, list):
            sink.append(line)
        else:
            sink.put(line)


@dataclass
class ServerProcess:
    """A Prizm server process: its address, its captured stderr, and ways to end it."""

    process: subprocess.Popen[bytes]
    address: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def signal(self, sig: signal.Signals) -> None:
        """Sends `sig` to the process."""
        self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def log_text(self) -> str:
        """Everything the process wrote to stderr so far."""
        return "\n".join(self.log)


def start_server(command: list[str], env: dict[str, str] | None = None) -> ServerProcess:
    """Starts a server and waits for its `listening` line on stdout.

    Raises:
        RuntimeError: The server exited, or did not listen within a minute (its log attached).
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    server = ServerProcess(process=process)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, server.log), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command} exited with {process.returncode}:\n{server.log_text()}"
                ) from None
            continue
        if line.startswith("{") and json.loads(line).get("event") == "listening":
            server.address = json.loads(line)["address"]
            return server
    process.kill()
    raise RuntimeError(f"{command} did not listen within {START_TIMEOUT_S} s:\n{server.log_text()}")


def start_provider(name: str, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """`prizm serve-provider NAME` on a free loopback port, run by this interpreter."""
    command = [sys.executable, "-m", "prizm_core.cli", "serve-provider", name, "--port", "0", *args]
    return start_server(command, env)


def children(pid: int, running: str = "") -> list[int]:
    """The child processes of `pid` (those whose command line holds `running`), oldest first."""
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return sorted((child for child in found if running in _command(child)), key=_started)


def descendants(pid: int) -> list[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    found = children(pid)
    return found + [grandchild for child in found for grandchild in descendants(child)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _started(pid: int) -> float:
    """When a process started, in clock ticks since boot; infinity once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except OSError:
        return float("inf")
