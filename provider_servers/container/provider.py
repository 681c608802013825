"""`ContainerProvider`: one service's container, owned from start to removal, served as a provider."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Self

import docker
import grpc

from prizm_core.config import SERVICE_MANIFEST_ENV
from prizm_core.services.containers import docker_client
from prizm_core.services.gpu import check_gpus
from prizm_core.services.lifecycle import ServiceContainer
from prizm_core.services.manifest import ServiceManifest, load_manifest
from provider_servers.container.adapters import adapter_class, build_adapter, reread
from provider_servers.container.cog_turns import cog_turn, until_set_up
from provider_servers.sdk import (
    Capability,
    Event,
    Health,
    Job,
    MediaUnit,
    ModelSpec,
    PrizmError,
    Provider,
    ProviderKind,
    Reason,
)

__all__ = ["MANIFEST_ENV", "ContainerProvider"]

log = logging.getLogger(__name__)

# Set by the router for each `services:` entry of its config.
MANIFEST_ENV = SERVICE_MANIFEST_ENV
# Seconds a container has to stop on SIGTERM when the provider closes, before it is killed.
_CLOSE_STOP_S = 5.0
# A health check that waits longer on the engine says NOT_SERVING rather than hold the watch up.
_STATUS_TIMEOUT_S = 5.0


def _manifest(environ: Mapping[str, str]) -> ServiceManifest:
    path = environ.get(MANIFEST_ENV, "").strip()
    if not path:
        raise ValueError(f"set {MANIFEST_ENV} to the service's prizm.service.yml")
    return load_manifest(Path(path))


class ContainerProvider(Provider):
    """Serves one container service (`PRIZM_SERVICE_MANIFEST` names its `prizm.service.yml`).

    `warm_up` builds or finds the image, starts the container and waits until it is healthy, then
    builds the adapter the manifest names (Cog, an `http_api` file, or a provider entry point) at
    the container's URL; models, checks and jobs are the adapter's. The provider is NOT_SERVING
    while the container starts, is down or unhealthy; `StartService` (re)starts it, `StopService`
    stops it, and `close` removes it, so nothing is left when the router stops.

    Attributes:
        manifest: The service's manifest.
        container: Its container.
    """

    id = "container"
    display_name: ClassVar[str] = "Container service"
    kind: ClassVar[ProviderKind] = ProviderKind.CONTAINER
    description: ClassVar[str] = "A model in a container, from its prizm.service.yml"
    # Often enough that a killed container is seen NOT_SERVING within 2 s, even after failed checks
    # have doubled the interval twice.
    health_interval_s: ClassVar[float] = 0.25

    def __init__(self, manifest: ServiceManifest, container: ServiceContainer) -> None:
        """Takes the service's manifest and its (not yet started) container."""
        self.manifest = manifest
        self.container = container
        self._adapter: Provider | None = None
        self._adapter_url = ""
        self._why_down = "starting the container"
        # Whether the adapter has yet to re-read the service (its schema) once it first serves.
        self._unread = False
        # Starts and stops one at a time: a StartService during warm-up waits for it.
        self._lock = asyncio.Lock()
        self._creating: asyncio.Future[None] | None = None

    @classmethod
    def missing(cls) -> list[str]:
        """A manifest that is not set or not valid, an adapter that is not installed, no Docker
        engine, or the GPUs the manifest asks for (`NO_GPU`): the router then skips the service
        with the reason instead of restarting it, and nothing is created."""
        try:
            manifest = _manifest(os.environ)
            adapter_class(manifest)
        except (ValueError, LookupError) as exc:  # ManifestError is a ValueError
            return [str(exc)]
        try:
            with contextlib.closing(docker_client()) as client:
                client.ping()
                check_gpus(client, manifest.name, manifest.requirements)
        except docker.errors.DockerException as exc:
            return [f"no Docker engine answers (start one with scripts/docker_engine.sh): {exc}"]
        except PrizmError as exc:
            return [f"{exc.reason}: {exc.message}"]
        return []

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """The provider of the manifest `PRIZM_SERVICE_MANIFEST` names, its id the service's name.

        Raises:
            ValueError: `PRIZM_SERVICE_MANIFEST` is not set, or the manifest (a `ManifestError`)
                cannot be read or is not valid.
        """
        manifest = _manifest(environ)
        bound = type(
            f"ContainerProvider[{manifest.name}]",
            (cls,),
            {
                "id": manifest.name,
                "display_name": manifest.name,
                "description": manifest.description,
                "version": manifest.version,
                "max_concurrent_jobs": adapter_class(manifest).max_concurrent_jobs,
            },
        )
        provider: Self = bound(manifest, ServiceContainer(manifest))
        return provider

    @property
    def managed_service(self) -> bool:
        """The container is a separate service: `StartService` and `StopService` manage it."""
        return True

    def _progress(self, line: str) -> None:
        log.info("service %s: %s", self.manifest.name, line)

    async def _start(self) -> None:
        """Builds or finds the image, starts the container unless it runs (one that exited is
        replaced), waits until it is healthy, and binds a fresh adapter to it."""
        await asyncio.to_thread(self.container.ensure_image, self._progress)
        # Cog containers on one host start one at a time (see cog_turns: their servers' sockets clash).
        async with cog_turn(self.manifest, self._progress) as deadline:
            # Its thread runs on when a stop cancels the warm-up: `close` waits for it, so a
            # container it creates is removed too.
            self._creating = asyncio.ensure_future(asyncio.to_thread(self.container.start, self._progress))
            await asyncio.shield(self._creating)
            await asyncio.to_thread(self.container.wait_healthy, None, self._progress)
            url = self.container.url
            if self._adapter is None or self._adapter_url != url:
                # A restart on the same URL keeps the adapter, and the jobs it runs for a container
                # that still serves.
                adapter = build_adapter(self.manifest, url)
                await adapter.warm_up()
                await self._drop_adapter()
                self._adapter, self._adapter_url = adapter, url
            if not await until_set_up(self._adapter, deadline, self.manifest.health.interval_s):
                self._progress("setup still runs at the start timeout: other Cog services may start")
        self._unread = True
        self._progress(f"serving at {url}")

    async def _drop_adapter(self) -> None:
        adapter, self._adapter = self._adapter, None
        if adapter is not None:
            await adapter.close()

    async def warm_up(self) -> None:
        """Starts the container and its adapter; a failure leaves the provider NOT_SERVING, saying why.

        It does not end the process: `StartService` tries again, and the router shows the reason.
        """
        async with self._lock:
            try:
                await self._start()
            except (PrizmError, LookupError, ValueError, docker.errors.DockerException) as exc:
                self._why_down = f"service failed: {exc}"
                log.error("service %s did not start: %s", self.manifest.name, exc)

    async def start_service(self) -> None:
        """(Re)starts the container (a new one if it exited) and waits until it is healthy.

        Raises:
            PrizmError: FAILED_PRECONDITION `NO_GPU`, or UNAVAILABLE `SERVICE_FAILED` when the
                image, the container or its health check fails.
        """
        async with self._lock:
            try:
                await self._start()
            except (LookupError, ValueError, docker.errors.DockerException) as exc:
                self._why_down = f"service failed: {exc}"
                raise PrizmError(
                    grpc.StatusCode.UNAVAILABLE,
                    Reason.SERVICE_FAILED,
                    f"service {self.manifest.name} did not start: {exc}",
                    metadata={"service": self.manifest.name},
                ) from exc
            except PrizmError as exc:
                self._why_down = f"service failed: {exc.message}"
                raise

    async def stop_service(self) -> None:
        """Stops and removes the container; the provider is NOT_SERVING until `StartService`."""
        async with self._lock:
            await self._drop_adapter()
            self._why_down = "stopped"
            await asyncio.to_thread(self.container.stop)

    async def close(self) -> None:
        """Closes the adapter and removes the container: nothing of the service is left."""
        await self._drop_adapter()
        if self._creating is not None:
            await asyncio.gather(self._creating, return_exceptions=True)
        # Within the router's grace for its sidecars, which kills a provider that takes longer.
        await asyncio.to_thread(self.container.stop, _CLOSE_STOP_S)

    async def check_health(self) -> Health:
        """NOT_SERVING while the container is not running (or not started); else the adapter's
        health (a Cog model's `/health-check`, an API's health path)."""
        adapter = self._adapter
        if adapter is None:
            return Health(False, self._why_down)
        try:
            state = await asyncio.wait_for(asyncio.to_thread(self.container.status), _STATUS_TIMEOUT_S)
        except (TimeoutError, docker.errors.DockerException) as exc:
            return Health(False, f"the Docker engine does not answer: {type(exc).__name__}")
        if state.state != "running":
            return Health(False, f"container {state.state}" + (f" ({state.detail})" if state.detail else ""))
        if state.healthy is False:
            return Health(False, f"container unhealthy ({state.detail})")
        health = await adapter.check_health()
        if health.serving and self._unread:
            try:
                await reread(adapter)
            except PrizmError as exc:
                return Health(False, f"{exc.reason}: {exc.message}")
            self._unread = False
        return health

    def _bound(self) -> Provider:
        if self._adapter is None:
            raise PrizmError(
                grpc.StatusCode.UNAVAILABLE,
                Reason.SERVICE_FAILED,
                f"service {self.manifest.name} is not running: {self._why_down}",
                metadata={"service": self.manifest.name},
            )
        return self._adapter

    def models(self) -> Sequence[ModelSpec]:
        """The adapter's models; none before the container is up."""
        return self._adapter.models() if self._adapter is not None else []

    def model_named(
        self, model_id: str, capability: Capability, options: Mapping[str, object]
    ) -> ModelSpec | None:
        """The adapter's model by id, if it runs unlisted ones."""
        return self._adapter.model_named(model_id, capability, options) if self._adapter else None

    def check_inputs(self, job: Job) -> None:
        """The adapter's input checks."""
        self._bound().check_inputs(job)

    def admit(self, job: Job) -> None:
        """The adapter's last word before a job starts."""
        self._bound().admit(job)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """The adapter's measure of the job's work."""
        return self._bound().measure(job)

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """The adapter's transform: a cancel reaches it, and it cancels the container's job."""
        return self._bound().transform(job)
