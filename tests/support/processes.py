"""Providers and routers as real subprocesses on loopback, with their logs captured."""

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = [
    "ServerProcess",
    "children",
    "cpu_seconds",
    "own_mesh",
    "start_provider",
    "start_router",
    "start_server",
    "synthetic_mesh",
    "write_config",
]

START_TIMEOUT_S = 60.0


def _pump(stream: object, sink: queue.Queue[str] | list[str]) -> None:
    for raw in stream:  # type: ignore[attr-defined]
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
    """Starts a server and waits for its `listening` line on stdout."""
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
    """`prizm serve-provider NAME` on a free loopback port."""
    command = [sys.executable, "-m", "prizm_core.cli", "serve-provider", name, "--port", "0", *args]
    return start_server(command, env)


def start_router(config: Path | None = None, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """`prizm router` on a free loopback port, with an optional config file."""
    command = [sys.executable, "-m", "prizm_core.cli", "router", "--listen", "127.0.0.1:0", *args]
    if config is not None:
        command += ["--config", str(config)]
    return start_server(command, env)


def write_config(path: Path, providers: list[str], **settings: object) -> Path:
    """A router config listing `providers` (addresses) as static endpoints."""
    data = {"providers": [{"address": a} for a in providers], **settings}
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children(pid: int, running: str = "") -> list[int]:
    """The child processes of `pid` (those whose command line holds `running`), oldest first."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return sorted((child for child in found if running in _command(child)), key=_started)


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


@contextlib.contextmanager
def router_for(folder: Path, *providers: ServerProcess) -> Iterator[ServerProcess]:
    """A router with `providers` as its static endpoints (config in `folder`), stopped on exit."""
    router = start_router(write_config(folder / "router.yaml", [p.address for p in providers]))
    try:
        yield router
    finally:
        router.stop()


@contextlib.contextmanager
def synthetic_mesh(
    config_path: Path, replicas: int, *provider_args: str, **settings: object
) -> Iterator[tuple[ServerProcess, list[ServerProcess]]]:
    """A router in front of `replicas` synthetic providers (static config with `settings`)."""
    providers = [start_provider("synthetic", *provider_args) for _ in range(replicas)]
    router: ServerProcess | None = None
    try:
        router = start_router(write_config(config_path, [p.address for p in providers], **settings))
        yield router, providers
    finally:
        for server in [router, *providers]:
            if server is not None:
                server.stop()


def own_mesh(
    purpose: str,
) -> tuple[Callable[..., Iterator[ServerProcess]], Callable[..., Iterator[ServerProcess]]]:
    """Module fixtures `provider` (a synthetic provider) and `router` (in front of it) for tests
    that must not touch other tests' servers: `provider, router = own_mesh("floods")`."""

    @pytest.fixture(scope="module", name="provider")
    def provider() -> Iterator[ServerProcess]:
        server = start_provider("synthetic")
        yield server
        server.stop()

    @pytest.fixture(scope="module", name="router")
    def router(tmp_path_factory: pytest.TempPathFactory, provider: ServerProcess) -> Iterator[ServerProcess]:
        with router_for(tmp_path_factory.mktemp(purpose), provider) as server:
            yield server

    provider.__doc__ = f"A synthetic provider of the {purpose} tests' own."
    router.__doc__ = f"A router in front of the {purpose} tests' provider."
    return provider, router
