"""Service containers by name on the engine: their state and health, logs, and stopping them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import grpc
from docker.models.containers import Container

from prizm_core.errors import PrizmError, Reason
from prizm_core.services.probes import from_label, probe

__all__ = [
    "HEALTH_LABEL",
    "HOST",
    "LABEL",
    "PORT_LABEL",
    "ContainerState",
    "container_logs",
    "container_name",
    "docker_client",
    "engine_socket",
    "find_container",
    "follow_container_logs",
    "port_of",
    "service_state",
    "service_states",
    "stop_container",
]

# Where a Docker engine installed the usual way listens; `docker.from_env()` tries it without DOCKER_HOST.
_DEFAULT_SOCKET = "/var/run/docker.sock"

LABEL = "prizm.service"
PORT_LABEL = "prizm.port"
HEALTH_LABEL = "prizm.health"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ContainerState:
    """A service container as the engine sees it, with its health when it runs.

    Attributes:
        state: `missing` (no container), or Docker's: created, running, restarting, paused, exited, dead.
        healthy: The health check's answer while running; None when not running or not known.
        detail: A few words: since when it runs, or how it ended.
        name: The service's name.
        image: The image the container runs.
        port: The loopback port it serves on.
    """

    state: str
    healthy: bool | None
    detail: str
    name: str = ""
    image: str = ""
    port: int | None = None


def engine_socket(environ: Mapping[str, str]) -> str | None:
    """The socket of the engine `scripts/docker_engine.sh` starts, when no other is named.

    With `DOCKER_HOST` unset and no engine on Docker's default socket, Prizm's own private engine
    (`$PRIZM_DOCKER_HOME/docker.sock`, default `~/.cache/prizm/docker`) is used if it is there, so
    `prizm service` and `prizm up` work after `scripts/docker_engine.sh start` without an `eval`.
    """
    if environ.get("DOCKER_HOST") or Path(_DEFAULT_SOCKET).exists():
        return None
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    home = Path(environ.get("PRIZM_DOCKER_HOME") or Path(cache) / "prizm" / "docker")
    socket = home / "docker.sock"
    return f"unix://{socket}" if socket.exists() else None


def docker_client() -> docker.DockerClient:
    """The engine of `DOCKER_HOST`, else Docker's default socket, else Prizm's own (`engine_socket`).

    Raises:
        PrizmError: UNAVAILABLE `SERVICE_FAILED` naming how to start one when none answers.
    """
    try:
        own = engine_socket(os.environ)
        return docker.DockerClient(base_url=own) if own else docker.from_env()
    except docker.errors.DockerException as exc:
        raise PrizmError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.SERVICE_FAILED,
            f"no Docker engine answers ({exc}); start one with `scripts/docker_engine.sh start` "
            "(or point DOCKER_HOST at one)",
        ) from None


def container_name(service: str) -> str:
    """The container of service `service`: `prizm-<service>`."""
    return f"prizm-{service}"


def find_container(client: docker.DockerClient, service: str) -> Container | None:
    """The service's container, running or not; None when there is none."""
    try:
        return client.containers.get(container_name(service))
    except docker.errors.NotFound:
        return None


def port_of(container: Container) -> int | None:
    """The loopback port a service container was started on (its `prizm.port` label)."""
    text = container.labels.get(PORT_LABEL, "")
    return int(text) if text.isdigit() else None


def _state(container: Container) -> ContainerState:
    state: dict[str, Any] = container.attrs.get("State", {})
    port = port_of(container)
    health = from_label(container.labels.get(HEALTH_LABEL, ""))
    healthy = None
    if container.status == "running" and port is not None and health is not None:
        healthy = probe(f"{HOST}:{port}", health)
    if container.status == "running":
        detail = f"up since {state.get('StartedAt', '?')}"
    else:
        detail = f"exit code {state.get('ExitCode', '?')} at {state.get('FinishedAt', '?')}"
        detail += f": {state['Error']}" if state.get("Error") else ""
    return ContainerState(
        state=str(container.status),
        healthy=healthy,
        detail=detail,
        name=container.labels.get(LABEL, ""),
        image=str(container.attrs.get("Config", {}).get("Image", "")),
        port=port,
    )


def service_state(client: docker.DockerClient, service: str) -> ContainerState:
    """The state of the service's container, its health probed when it runs (`missing` if none)."""
    container = find_container(client, service)
    if container is None:
        return ContainerState("missing", None, f"no container {container_name(service)}", name=service)
    return _state(container)


def service_states(client: docker.DockerClient) -> list[ContainerState]:
    """Every service container on the engine (labelled `prizm.service`), by name."""
    containers = client.containers.list(all=True, filters={"label": LABEL})
    return sorted((_state(container) for container in containers), key=lambda state: state.name)


def stop_container(client: docker.DockerClient, service: str, timeout_s: float = 10) -> bool:
    """Stops the service's container (SIGTERM, SIGKILL after `timeout_s`) and removes it.

    Returns:
        Whether there was one.
    """
    container = find_container(client, service)
    if container is None:
        return False
    if container.status == "running":
        container.stop(timeout=round(timeout_s))
    container.remove(force=True)
    return True


def container_logs(client: docker.DockerClient, service: str, tail: int | None = None) -> str:
    """The container's output (stdout and stderr), its last `tail` lines or all; "" when none."""
    container = find_container(client, service)
    if container is None:
        return ""
    raw: bytes = container.logs(tail="all" if tail is None else tail)
    return raw.decode("utf-8", errors="replace")


def follow_container_logs(
    client: docker.DockerClient, service: str, tail: int | None = None
) -> Iterator[str]:
    """The container's output as it comes, after its last `tail` lines, until it stops."""
    container = find_container(client, service)
    if container is None:
        return
    for chunk in container.logs(stream=True, follow=True, tail="all" if tail is None else tail):
        yield chunk.decode("utf-8", errors="replace")
