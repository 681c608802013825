"""Health of every endpoint: one `Watch` stream (push) and a light active check (pull) each.

The Watch stream sees a crash or a NOT_SERVING in milliseconds; the active
check sees what Watch cannot: a hung process or a blocked event loop, whose
connection still answers HTTP/2 pings. A Prizm provider repeats its status on
the Watch stream at the check interval when asked (a heartbeat); for such an
endpoint the check is the heartbeat's freshness, with no RPC at all. Any other
server gets a `Check` call with a short deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from grpc_health.v1 import health_pb2
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.health import HEARTBEAT_HEADER
from prizm_core.router.registry import Catalog, Endpoint, ModelEntry, Registry

__all__ = ["HealthMonitor", "fetch_catalog"]

log = logging.getLogger(__name__)

HEALTH_SERVICE = model_pb.DESCRIPTOR.services_by_name["ModelService"].full_name
CATALOG_TIMEOUT_S = 5.0
# Asking a provider that turned NOT_SERVING why must not hold up its health stream for long.
_DETAIL_TIMEOUT_S = 1.0
_BACKOFF_START_S = 0.05
_BACKOFF_MAX_S = 0.5
# A provider without a health service is treated as serving while it answers; re-checked this often.
_NO_HEALTH_RECHECK_S = 1.0
_SERVING = health_pb2.HealthCheckResponse.SERVING
# After a missed check the next one follows almost at once (a short pause, not a spin).
_RECHECK_S = 0.01


async def fetch_catalog(endpoint: Endpoint) -> Catalog:
    """Asks the provider who it is and what models it has."""
    info, models = await asyncio.gather(
        endpoint.provider.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=CATALOG_TIMEOUT_S),
        endpoint.provider.ListModels(provider_pb.ListModelsRequest(), timeout=CATALOG_TIMEOUT_S),
    )
    entries = []
    for model in models.models:
        model.provider_id = info.provider.id
        entries.append(ModelEntry(id=model.id, capabilities=frozenset(model.capabilities), message=model))
    return Catalog(info=info.provider, models=tuple(entries))


async def _service_detail(endpoint: Endpoint) -> tuple[bool, str]:
    """Whether the provider's service is stopped (it listens but says it cannot serve: a vendor
    refused its key, say), and `: <why>` from its service status; `(False, "")` when it cannot say
    at once, or when it is warming up or stopping."""
    try:
        answer = await endpoint.provider.GetServiceStatus(
            provider_pb.GetServiceStatusRequest(), timeout=_DETAIL_TIMEOUT_S
        )
    except grpc.aio.AioRpcError:
        return False, ""
    # A running service that turned NOT_SERVING is stopping: its detail says nothing about that.
    if answer.status.state == provider_pb.SERVICE_STATE_RUNNING or not answer.status.detail:
        return False, ""
    return answer.status.state == provider_pb.SERVICE_STATE_STOPPED, f": {answer.status.detail}"


class HealthMonitor:
    """Keeps every endpoint's signals and state current."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.settings = registry.settings
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def start(self, endpoint: Endpoint) -> None:
        """Starts watching and checking `endpoint` (once)."""
        if endpoint.address not in self._tasks:
            self._tasks[endpoint.address] = [
                asyncio.create_task(self._watch(endpoint), name=f"watch {endpoint.address}"),
                asyncio.create_task(self._check(endpoint), name=f"check {endpoint.address}"),
            ]

    async def stop(self, address: str) -> None:
        """Stops watching the endpoint at `address`."""
        tasks = self._tasks.pop(address, [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stops every watch and check."""
        for address in list(self._tasks):
            await self.stop(address)

    def _report(self, endpoint: Endpoint, state: router_pb.EndpointState.ValueType, detail: str) -> None:
        endpoint.signals.report(state, detail)
        self.registry.refresh(endpoint)

    async def _preview(self, endpoint: Endpoint) -> None:
        """Asks a provider still warming up what it will serve, so jobs wait only for one that may
        take them; a provider that cannot say yet is waited for as one that may."""
        try:
            preview = await fetch_catalog(endpoint)
        except grpc.aio.AioRpcError as exc:
            log.debug("endpoint %s has no catalog before SERVING: %s", endpoint.address, exc.code().name)
            return
        self.registry.previewed(endpoint, preview)

    async def _serving(self, endpoint: Endpoint) -> None:
        try:
            catalog = await fetch_catalog(endpoint)
        except grpc.aio.AioRpcError as exc:
            self._report(endpoint, router_pb.ENDPOINT_STATE_NOT_SERVING, f"catalog: {exc.code().name}")
            return
        endpoint.signals.report(router_pb.ENDPOINT_STATE_SERVING)
        self.registry.refresh(endpoint, catalog)

    async def _not_serving(self, endpoint: Endpoint, status: int, repeated: bool = False) -> None:
        """Reports NOT_SERVING with the provider's own reason (a repeated status only when that
        changed); one whose service stopped (it listens but cannot serve) is no longer worth a
        job's wait, as one warming up is."""
        names = health_pb2.HealthCheckResponse.ServingStatus
        name = names.Name(status) if status in names.values() else "unknown"
        if not repeated:  # at once: routing away must not wait for the reason
            self._report(endpoint, router_pb.ENDPOINT_STATE_NOT_SERVING, f"health: {name}")
        stopped, why = await _service_detail(endpoint)
        if why and endpoint.signals.report_detail != f"health: {name}{why}":
            self._report(endpoint, router_pb.ENDPOINT_STATE_NOT_SERVING, f"health: {name}{why}")
        if stopped:
            self.registry.stop_warming(endpoint.address)

    async def _watch_once(self, endpoint: Endpoint) -> bool:
        """Follows one Watch stream; returns True if the stream delivered at least one status."""
        delivered = False
        endpoint.heartbeats = False  # this stream's server may not heartbeat; it shows by repeating
        heartbeat = ((HEARTBEAT_HEADER, str(round(self.settings.check_interval_s * 1000))),)
        # wait_for_ready: after a restart the stream starts as soon as the channel reconnects.
        request = health_pb2.HealthCheckRequest(service=HEALTH_SERVICE)
        call = endpoint.watch_health(request, wait_for_ready=True, metadata=heartbeat)
        previous = None
        try:
            async for response in call:
                delivered = True
                endpoint.last_heard = time.monotonic()
                if response.status == previous:
                    endpoint.heartbeats = True
                    # One warming up may give up (a vendor refused its key) with no new status: ask.
                    if response.status != _SERVING and endpoint.catalog is None and endpoint.warm_until:
                        await self._not_serving(endpoint, response.status, repeated=True)
                    continue
                previous = response.status
                if response.status == _SERVING:
                    await self._serving(endpoint)
                else:
                    await self._not_serving(endpoint, response.status)
                    if endpoint.warming(time.monotonic()) and endpoint.preview is None:
                        await self._preview(endpoint)
            self._report(endpoint, router_pb.ENDPOINT_STATE_NOT_SERVING, "health stream ended")
        finally:
            call.cancel()
        return delivered

    async def _watch(self, endpoint: Endpoint) -> None:
        backoff = _BACKOFF_START_S
        while True:
            try:
                if await self._watch_once(endpoint):
                    backoff = _BACKOFF_START_S
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    # gRFC A17: a server without the health service is taken as healthy.
                    log.warning("endpoint %s has no health service; treating it as serving", endpoint.address)
                    await self._serving(endpoint)
                    await asyncio.sleep(_NO_HEALTH_RECHECK_S)
                    continue
                self._report(
                    endpoint, router_pb.ENDPOINT_STATE_NOT_SERVING, f"unreachable: {exc.code().name}"
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    async def _check_once(self, endpoint: Endpoint) -> bool:
        try:
            answer = await endpoint.check_health(
                health_pb2.HealthCheckRequest(service=HEALTH_SERVICE), timeout=self.settings.check_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code() == grpc.StatusCode.UNIMPLEMENTED
        return bool(answer.status == _SERVING)

    def _heard_lately(self, endpoint: Endpoint) -> bool:
        """Whether a heartbeat came within an interval plus a check's timeout (two missed beats fail)."""
        limit = self.settings.check_interval_s + self.settings.check_timeout_s
        return time.monotonic() - endpoint.last_heard <= limit

    async def _check(self, endpoint: Endpoint) -> None:
        """Checks a serving endpoint every interval, and at once again after a miss (so a hung one is
        out within two timeouts); also re-judges it, so holds and ejections expire."""
        ok = True
        while True:
            await asyncio.sleep(self.settings.check_interval_s if ok else _RECHECK_S)
            ok = True
            if endpoint.signals.reported == router_pb.ENDPOINT_STATE_SERVING:
                ok = self._heard_lately(endpoint) if endpoint.heartbeats else await self._check_once(endpoint)
                if not ok:
                    log.debug("endpoint %s failed a health check", endpoint.address)
                endpoint.signals.check(ok)
            self.registry.refresh(endpoint)
