"""The router's core: endpoints, candidates for a job, call outcomes, estimates and listings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.assets import ASSET_SOURCE_HEADER
from prizm_core.config import HealthSettings
from prizm_core.errors import PrizmError, Reason
from prizm_core.handlers import method_path
from prizm_core.router.budget import RetryBudget
from prizm_core.router.health import HealthMonitor
from prizm_core.router.registry import Endpoint, Registry
from prizm_core.router.routing import (
    Route,
    accepting,
    awaited,
    eligible,
    no_candidate_error,
    options_error,
    order,
)
from prizm_core.security.tls import ClientTls
from prizm_core.telemetry.grpc_metrics import counted_unary
from prizm_core.telemetry.metrics import RouterMetrics
from prizm_core.telemetry.tracing import span_event

__all__ = ["Router", "RouterSettings"]

log = logging.getLogger(__name__)

# gRPC rounds a timeout up to three significant figures on the wire, so each hop may see up to
# 1% more time than its caller has left. The relay divides by this twice (the caller's hop and
# its own), so a provider's deadline is never later than the caller's.
_WIRE_ROUNDING = 1.01
# Before the first event nothing is committed: these codes send the job to the next candidate.
FAILOVER_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
# Counted as a client call in the metrics.
_ESTIMATE_PATH = method_path(
    model_pb.DESCRIPTOR.services_by_name["ModelService"].methods_by_name["EstimateCost"]
)


@dataclass(frozen=True)
class RouterSettings:
    """Routing behaviour.

    Attributes:
        default_policy: Policy when the caller names none.
        max_attempts: Most providers one job is offered to before its first event.
        estimate_timeout_s: Deadline of each provider's `EstimateCost` while routing.
        deadline_margin_s: Time kept back from the caller's deadline for the hop back.
        drain_s: How long an endpoint leaving the mesh keeps its jobs in flight.
        startup_wait_s: How long after a sidecar's launch a job may wait for its first
            SERVING rather than go to a lower-priority provider or fail.
        health: Health checking, outlier ejection and flap damping.
        tls: How providers are dialled: TLS (with the router's client certificate, if any) or
            plaintext when None.
    """

    default_policy: router_pb.RoutingPolicy.ValueType = router_pb.ROUTING_POLICY_PRIORITY
    max_attempts: int = 3
    estimate_timeout_s: float = 2.0
    deadline_margin_s: float = 0.005
    drain_s: float = 30.0
    startup_wait_s: float = 30.0
    health: HealthSettings = field(default_factory=HealthSettings)
    tls: ClientTls | None = None


class Router:
    """Registry, health and routing of one router process, free of its gRPC servicers."""

    def __init__(self, settings: RouterSettings) -> None:
        self.settings = settings
        self.registry = Registry(settings.health, settings.tls)
        self.health = HealthMonitor(self.registry)
        self.budget = RetryBudget()
        self.metrics = RouterMetrics(lambda: [endpoint.state for endpoint in self.registry])
        self._drains: dict[str, asyncio.Task[None]] = {}
        # This router's address as providers should dial it to download uploaded inputs.
        self.asset_source = ""
        # Providers of the config not started (a remote one without its key), and what would start each.
        self.not_started: dict[str, str] = {}

    def call_metadata(self, inputs: Iterable[media_pb.Asset]) -> tuple[tuple[str, str], ...]:
        """Metadata a provider call needs: where to download inputs sent by reference, if any."""
        if self.asset_source and any(a.WhichOneof("source") == "uri" for a in inputs):
            return ((ASSET_SOURCE_HEADER, self.asset_source),)
        return ()

    def add_endpoint(
        self,
        address: str,
        source: router_pb.DiscoverySource.ValueType,
        priority: int = 0,
        *,
        name: str = "",
        warming: bool = False,
        watch: bool = True,
    ) -> Endpoint:
        """Adds an endpoint (or takes back one that was draining) and starts watching its health.

        Args:
            address: Where the provider listens (or will).
            source: How the router learnt of it.
            priority: Its rank under the priority policy.
            name: The provider expected there, listed until its catalog says so.
            warming: Just launched: jobs wait up to `startup_wait_s` for its first SERVING.
            watch: Start health checks now; else at `watch_endpoint` (once something listens there).
        """
        drain = self._drains.pop(address, None)
        if drain is not None:
            drain.cancel()
        endpoint = self.registry.add(address, source, priority, name)
        if warming:
            endpoint.warm_until = time.monotonic() + self.settings.startup_wait_s
        if watch:
            self.health.start(endpoint)
        return endpoint

    def watch_endpoint(self, address: str) -> None:
        """Starts the health checks of an endpoint added with `watch=False` (no-op if watched)."""
        endpoint = self.registry.get(address)
        if endpoint is not None and not endpoint.draining:
            self.health.start(endpoint)

    def retire_endpoint(self, address: str, why: str) -> None:
        """Takes an endpoint out of routing at once, then removes it once its jobs have ended.

        Its channel stays open for the jobs in flight, at most `drain_s`; a job
        still running then is cut off, and its caller gets PROVIDER_CRASHED.
        """
        endpoint = self.registry.drain(address, why)
        if endpoint is None or address in self._drains:
            return
        log.info("endpoint %s draining (%s): %d job(s) in flight", address, why, endpoint.in_flight)
        self._drains[address] = asyncio.create_task(self._drain(endpoint), name=f"drain {address}")

    async def _drain(self, endpoint: Endpoint) -> None:
        await self.health.stop(endpoint.address)
        try:
            await asyncio.wait_for(endpoint.idle.wait(), self.settings.drain_s)
        except TimeoutError:
            log.warning(
                "endpoint %s still had %d job(s) after draining %.1f s; cutting them off",
                endpoint.address,
                endpoint.in_flight,
                self.settings.drain_s,
            )
        del self._drains[endpoint.address]
        await self.registry.remove(endpoint.address)

    async def close(self) -> None:
        """Stops every health watch and drain and closes every channel."""
        for task in self._drains.values():
            task.cancel()
        await asyncio.gather(*self._drains.values(), return_exceptions=True)
        await self.health.close()
        await self.registry.close()

    def timeout(self, deadline: float | None) -> float | None:
        """Time to give a provider: what is left before `deadline` (monotonic), with the wire's
        rounding on both hops and the margin for the hop back taken off."""
        if deadline is None:
            return None
        left = (deadline - time.monotonic()) / _WIRE_ROUNDING**2 - self.settings.deadline_margin_s
        return max(left, 0.001)

    def call_outcome(self, endpoint: Endpoint, ok: bool) -> None:
        """Records how a call ended; ejects an endpoint that keeps failing, if others can cover for it."""
        if not endpoint.signals.call(ok) or endpoint.catalog is None:
            return
        covered = all(
            any(
                other is not endpoint
                and other.routable
                and other.catalog
                and other.catalog.model_for(capability)
                for other in self.registry
            )
            for capability in endpoint.catalog.info.capabilities
        )
        if not covered:
            log.warning(
                "endpoint %s keeps failing but is the last of its capabilities; kept", endpoint.address
            )
            return
        length = endpoint.signals.eject()
        log.warning("endpoint %s ejected for %.1f s after failed calls", endpoint.address, length)
        self.metrics.ejected(endpoint)
        span_event("prizm.endpoint.ejected", provider=endpoint.catalog.provider_id, address=endpoint.address)
        self.registry.refresh(endpoint)

    async def _estimates(
        self, endpoints: list[Endpoint], route: Route, job: model_pb.EstimateCostRequest
    ) -> dict[str, float]:
        """Estimated cost by provider id, within the route's max cost; failures leave a provider out."""
        first: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            if endpoint.catalog is not None:
                first.setdefault(endpoint.catalog.provider_id, endpoint)

        async def ask(endpoint: Endpoint) -> model_pb.EstimateCostResponse | None:
            try:
                call = endpoint.models.EstimateCost(
                    job, timeout=self.settings.estimate_timeout_s, metadata=self.call_metadata(job.inputs)
                )
                return await counted_unary(self.metrics.grpc, _ESTIMATE_PATH, call)
            except grpc.aio.AioRpcError as exc:
                log.warning("estimate from %s failed: %s", endpoint.address, exc.code().name)
                return None

        answers = await asyncio.gather(*(ask(e) for e in first.values()))
        costs: dict[str, float] = {}
        for provider_id, answer in zip(first, answers, strict=True):
            if answer is None:
                continue
            cost = answer.cost
            ceiling = route.max_cost
            too_dear = cost.currency != ceiling.currency or cost.amount > ceiling.amount if ceiling else False
            if too_dear and cost.amount > 0:
                continue
            costs[provider_id] = cost.amount
        return costs

    def _found(self, route: Route) -> list[Endpoint]:
        """Routable endpoints for the route whose model accepts its options; else suspect ones that do."""
        found = accepting(eligible(self.registry, route), route)
        return found or accepting(eligible(self.registry, route, last_resort=True), route)

    async def _ordered(
        self, found: list[Endpoint], route: Route, job: model_pb.EstimateCostRequest
    ) -> list[Endpoint]:
        costs = await self._estimates(found, route, job) if route.needs_estimates else None
        ordered = order(found, route, costs)
        if not ordered and route.max_cost is not None:
            raise PrizmError(
                grpc.StatusCode.FAILED_PRECONDITION,
                Reason.MAX_COST_EXCEEDED,
                f"no provider can do the job for {route.max_cost.amount:g} {route.max_cost.currency} or less",
            )
        return ordered

    @staticmethod
    def _patience(
        found: list[Endpoint], warming: list[Endpoint], deadline: float | None, now: float
    ) -> float:
        """Until when a job waits for providers still warming up: at most their startup wait, and
        within the caller's deadline; with a candidate at hand, half the time left, so that one
        still has time to do the job."""
        until = max(e.warm_until for e in warming)
        if deadline is not None:
            until = min(until, now + (deadline - now) / 2 if found else deadline)
        return until

    async def candidates(
        self,
        route: Route,
        job: model_pb.EstimateCostRequest,
        deadline: float | None,
        wait_for_ready: bool,
    ) -> list[Endpoint]:
        """Endpoints that can take the job now, best first.

        A provider the job would rather go to that is still warming up (a sidecar
        just launched) is waited for, within `_patience`. With `wait_for_ready`,
        waits for a candidate to appear until `deadline`.

        Raises:
            PrizmError: No endpoint can take the job (see `no_candidate_error`), every
                model refuses its options (INVALID_OPTIONS, see `options_error`), or
                none can within the caller's max cost (MAX_COST_EXCEEDED).
        """
        patience: float | None = None
        while True:
            found, now = self._found(route), time.monotonic()
            warming = (
                [] if patience is not None and now >= patience else awaited(self.registry, route, found, now)
            )
            if found and not warming and (ordered := await self._ordered(found, route, job)):
                return ordered
            if not found and not warming and (refused := options_error(self.registry, route)) is not None:
                raise refused
            if warming:
                patience = self._patience(found, warming, deadline, now) if patience is None else patience
                await self.registry.wait_changed(patience - now)
                continue
            remaining = None if deadline is None else deadline - now
            if not wait_for_ready or (remaining is not None and remaining <= 0):
                raise no_candidate_error(self.registry, route)
            await self.registry.wait_changed(remaining)

    async def estimate(
        self, request: model_pb.EstimateCostRequest, route: Route, deadline: float | None
    ) -> tuple[model_pb.EstimateCostResponse, Endpoint]:
        """The estimate of the provider the job would go to."""
        ordered = await self.candidates(route, request, deadline, wait_for_ready=False)
        error: grpc.aio.AioRpcError | None = None
        for endpoint in ordered[: self.settings.max_attempts]:
            try:
                call = endpoint.models.EstimateCost(
                    request, timeout=self.timeout(deadline), metadata=self.call_metadata(request.inputs)
                )
                answer = await counted_unary(self.metrics.grpc, _ESTIMATE_PATH, call)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in FAILOVER_CODES:
                    raise
                error = exc
                continue
            return answer, endpoint
        assert error is not None  # noqa: S101 - ordered is never empty
        raise error

    def models(self, capability: int, provider: str = "") -> list[catalog_pb.Model]:
        """Models of the routable endpoints, one per provider and model id, sorted."""
        found: dict[tuple[str, str], catalog_pb.Model] = {}
        for endpoint in self.registry:
            catalog = endpoint.catalog
            if not endpoint.routable or catalog is None or (provider and catalog.provider_id != provider):
                continue
            for model in catalog.models:
                if capability and capability not in model.capabilities:
                    continue
                found.setdefault((catalog.provider_id, model.id), model.message)
        return [found[key] for key in sorted(found)]

    def not_started_providers(self) -> list[router_pb.NotStartedProvider]:
        """The config's providers the router did not start, each with what would, sorted by name."""
        found = sorted(self.not_started.items())
        return [router_pb.NotStartedProvider(provider=name, hint=hint) for name, hint in found]

    def endpoints(self) -> list[router_pb.ProviderEndpoint]:
        """Every endpoint, sorted by provider id then address."""
        listed = [endpoint.to_proto() for endpoint in self.registry]
        return sorted(listed, key=lambda e: (e.provider.id, e.address))
