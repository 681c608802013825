"""A service's container through the Docker SDK: image, start with its resources, health, stop, logs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
from docker.models.containers import Container

from prizm_core.errors import PrizmError, Reason
from prizm_core.services import images
from prizm_core.services.containers import (
    HEALTH_LABEL,
    HOST,
    LABEL,
    PORT_LABEL,
    ContainerState,
    container_logs,
    container_name,
    docker_client,
    find_container,
    follow_container_logs,
    port_of,
    service_state,
    stop_container,
)
from prizm_core.services.gpu import check_gpus
from prizm_core.services.manifest import ServiceManifest
from prizm_core.services.probes import describe, probe, to_label

__all__ = ["ContainerState", "ServiceContainer"]

Progress = Callable[[str], None]
_LOG_TAIL = 20


def _failed(service: str, message: str) -> PrizmError:
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE, Reason.SERVICE_FAILED, message, metadata={"service": service}
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.bind((HOST, 0))
        port: int = probe_socket.getsockname()[1]
        return port


class ServiceContainer:
    """The container of one service: `prizm-<name>`, on the host's network, labelled `prizm.service`.

    Methods block (they call the engine): async callers use `asyncio.to_thread`.
    """

    def __init__(
        self,
        manifest: ServiceManifest,
        *,
        port: int | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        """Prepares the service's container; nothing is asked of the engine yet.

        Args:
            manifest: The service.
            port: The loopback port to serve on; by default a free one when the manifest has
                `port_env`, else the manifest's `port`.
            client: The engine; by default that of `DOCKER_HOST` (see `docker_client`).

        Raises:
            PrizmError: INVALID_ARGUMENT `INVALID_INPUT` for a port the service cannot be moved to.
        """
        if port is not None and manifest.port_env is None and port != manifest.port:
            raise PrizmError(
                grpc.StatusCode.INVALID_ARGUMENT,
                Reason.INVALID_INPUT,
                f"service {manifest.name} always listens on port {manifest.port} (it has no port_env)",
            )
        self.manifest = manifest
        self.name = container_name(manifest.name)
        self._port = port or manifest.port or _free_port()
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        """The engine, connected on first use."""
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def port(self) -> int:
        """The loopback port the service serves on."""
        return self._port

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`."""
        return f"{HOST}:{self._port}"

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{self.address}"

    def _container(self) -> Container | None:
        return find_container(self.client, self.manifest.name)

    def _check_machine(self) -> dict[str, dict[str, str]]:
        """Refuses what this machine cannot give the service (GPUs, volume folders), before any
        image or container is made; returns the volumes as the SDK takes them."""
        check_gpus(self.client, self.manifest.name, self.manifest.requirements)
        volumes = {}
        for volume in self.manifest.volumes:
            source = (self.manifest.directory / Path(volume.source).expanduser()).resolve()
            if not source.exists():
                raise _failed(self.manifest.name, f"the volume source {source} does not exist")
            volumes[str(source)] = {"bind": volume.target, "mode": "ro" if volume.read_only else "rw"}
        return volumes

    def ensure_image(self, progress: Progress) -> str:
        """The service's image, pulled or built when missing (GPU needs are checked first).

        Raises:
            PrizmError: FAILED_PRECONDITION `NO_GPU`; UNAVAILABLE `SERVICE_FAILED` when the image
                cannot be had.
        """
        self._check_machine()
        return images.ensure_image(self.client, self.manifest, progress)

    def _run_options(self, volumes: dict[str, dict[str, str]]) -> dict[str, Any]:
        manifest = self.manifest
        environment = {"HOST": HOST, **manifest.environment}
        if manifest.port_env is not None:
            environment[manifest.port_env] = str(self._port)
        wanted = manifest.requirements
        options: dict[str, Any] = {
            "name": self.name,
            "detach": True,
            "network_mode": "host",
            "environment": environment,
            "volumes": volumes,
            "command": list(manifest.command) if manifest.command else None,
            "labels": {
                LABEL: manifest.name,
                "prizm.version": manifest.version,
                PORT_LABEL: str(self._port),
                HEALTH_LABEL: to_label(manifest.health),
            },
            "mem_limit": wanted.memory,
            "nano_cpus": round(wanted.cpus * 1e9) if wanted.cpus else None,
        }
        if wanted.gpus != 0:
            count = -1 if wanted.gpus == "all" else wanted.gpus
            options["device_requests"] = [docker.types.DeviceRequest(count=count, capabilities=[["gpu"]])]
        return options

    def start(self, progress: Progress) -> None:
        """Starts the container (after `ensure_image`); one already running is kept, its port used.

        A stopped container left under the same name is removed first.

        Raises:
            PrizmError: FAILED_PRECONDITION `NO_GPU` before anything is created when the service
                wants GPUs the machine lacks; UNAVAILABLE `SERVICE_FAILED` when it cannot start.
        """
        volumes = self._check_machine()
        existing = self._container()
        if existing is not None and existing.status == "running":
            self._port = port_of(existing) or self._port
            progress(f"{self.name} is already running on port {self._port}")
            return
        if existing is not None:
            existing.remove(force=True)
        image = images.ensure_image(self.client, self.manifest, progress)
        progress(f"starting {self.name} from {image} on port {self._port}")
        try:
            self.client.containers.run(image, **self._run_options(volumes))
        except docker.errors.APIError as exc:
            if "could not select device driver" in str(exc.explanation):
                raise PrizmError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    Reason.NO_GPU,
                    f"the Docker engine cannot hand GPUs to {self.name}: install the NVIDIA "
                    f"Container Toolkit ({exc.explanation})",
                    metadata={"service": self.manifest.name},
                ) from None
            raise _failed(self.manifest.name, f"{self.name} did not start: {exc.explanation}") from None

    def _ended(self, container: Container | None) -> PrizmError | None:
        """SERVICE_FAILED with the last log lines when the container is gone or has stopped."""
        if container is None:
            return _failed(self.manifest.name, f"{self.name} is gone (removed while starting)")
        if container.status in ("running", "created", "restarting"):
            return None
        code = container.attrs.get("State", {}).get("ExitCode", "?")
        lines = self.logs(_LOG_TAIL).rstrip() or "(no output)"
        return _failed(self.manifest.name, f"{self.name} exited with code {code}; its last lines:\n{lines}")

    def wait_healthy(self, timeout_s: float | None, progress: Progress) -> None:
        """Waits until the health check answers, checking every `health.interval_s`.

        Args:
            timeout_s: How long to wait; None for the manifest's `health.start_timeout_s`.
            progress: Told what is awaited and for how long so far.

        Raises:
            PrizmError: UNAVAILABLE `SERVICE_FAILED` at once when the container exits (with its
                last log lines), or when it is not healthy in time.
        """
        health = self.manifest.health
        limit = health.start_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        while True:
            ended = self._ended(self._container())
            if ended is not None:
                raise ended
            if probe(self.address, health, timeout_s=max(health.interval_s, 1.0)):
                return
            waited = time.monotonic() - started
            if waited >= limit:
                lines = self.logs(_LOG_TAIL).rstrip() or "(no output)"
                raise _failed(
                    self.manifest.name,
                    f"{self.name} was not healthy ({describe(health)} on {self.address}) within "
                    f"{limit:g} s; its last lines:\n{lines}",
                )
            progress(f"waiting for {describe(health)} on {self.address} ({waited:.0f} s)")
            time.sleep(health.interval_s)

    def stop(self, timeout_s: float = 10) -> None:
        """Stops the container (SIGTERM, then SIGKILL after `timeout_s`) and removes it; none is fine."""
        stop_container(self.client, self.manifest.name, timeout_s)

    def kill(self) -> None:
        """Kills the container at once (SIGKILL) and leaves it, exited, for its status and logs."""
        container = self._container()
        if container is not None and container.status == "running":
            container.kill()

    def status(self) -> ContainerState:
        """The container's state, with its health probed when it runs."""
        return service_state(self.client, self.manifest.name)

    def logs(self, tail: int | None = None) -> str:
        """The container's output (stdout and stderr), its last `tail` lines or all; "" when none."""
        return container_logs(self.client, self.manifest.name, tail)

    def follow_logs(self, tail: int | None = None) -> Iterator[str]:
        """The container's output as it comes, after its last `tail` lines, until it stops."""
        return follow_container_logs(self.client, self.manifest.name, tail)
