"""Providers and routers as real subprocesses on loopback (the contract kit's), and meshes of them."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provider_servers.contract.processes import ServerProcess, children, start_provider, start_server

__all__ = [
    "ServerProcess",
    "children",
    "cpu_seconds",
    "own_mesh",
    "start_provider",
    "start_router",
    "start_server",
    "synthetic_mesh",
    "up_command",
    "write_config",
]


def start_router(config: Path | None = None, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    """`prizm router` on a free loopback port, with an optional config file."""
    command = [sys.executable, "-m", "prizm_core.cli", "router", "--listen", "127.0.0.1:0", *args]
    if config is not None:
        command += ["--config", str(config)]
    return start_server(command, env)


def up_command(config: Path) -> list[str]:
    """`prizm up` with `config` on a free loopback port (start it with `start_server`)."""
    return [sys.executable, "-m", "prizm_core.cli", "up", "--config", str(config), "--listen", "127.0.0.1:0"]


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
