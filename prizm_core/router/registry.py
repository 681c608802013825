"""The router's registry: every provider endpoint, its channel, health state, catalog and load."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.channels import open_channel
from prizm_core.config import HealthSettings
from prizm_core.handlers import method_path
from prizm_core.router.signals import EndpointSignals, Verdict
from prizm_core.security.tls import ClientTls

__all__ = ["Catalog", "Endpoint", "ModelEntry", "Registry", "Watch"]

log = logging.getLogger(__name__)

_REDIAL_MAX_MS = 250
# What a watcher reads: every change, then None if the stream must end (the router is stopping).
Watch = asyncio.Queue[router_pb.WatchProvidersResponse | None]
TRANSFORM = model_pb.DESCRIPTOR.services_by_name["ModelService"].methods_by_name["Transform"]
WATCH = health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Watch"]
CHECK = health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"]


@dataclass(frozen=True)
class ModelEntry:
    """One model of a provider, as the router routes on it."""

    id: str
    capabilities: frozenset[int]
    message: catalog_pb.Model


@dataclass(frozen=True)
class Catalog:
    """What a provider said about itself the last time it turned SERVING."""

    info: catalog_pb.ProviderInfo
    models: tuple[ModelEntry, ...]

    @property
    def provider_id(self) -> str:
        """The provider's id."""
        return self.info.id

    @property
    def local(self) -> bool:
        """Whether the provider works on its own machine (local tool or container)."""
        return self.info.kind in (
            catalog_pb.PROVIDER_KIND_LOCAL,
            catalog_pb.PROVIDER_KIND_CONTAINER,
        )

    def model_for(self, capability: int, model_id: str = "") -> ModelEntry | None:
        """The model that would take a job: the named one if it has the capability, else the first.

        A model the provider does not list is one it may run all the same when it says it runs
        unlisted models (a hosted API's endpoint named by id): the provider accepts or refuses it.
        """
        for model in self.models:
            if capability in model.capabilities and (not model_id or model.id == model_id):
                return model
        if model_id and self.info.runs_unlisted_models and all(m.id != model_id for m in self.models):
            unlisted = catalog_pb.Model(id=model_id, provider_id=self.info.id)
            unlisted.capabilities.append(capability)  # type: ignore[arg-type]  # a Capability number
            return ModelEntry(model_id, frozenset({capability}), unlisted)
        return None


@dataclass(eq=False)
class Endpoint:
    """One provider endpoint. The registry owns it; the health monitor updates its state."""

    address: str
    source: router_pb.DiscoverySource.ValueType
    priority: int = 0
    # The provider expected here (a sidecar's, from the config): listed before its catalog says so.
    name: str = ""
    # Monotonic time until which jobs may wait for this endpoint's first SERVING (see `warming`).
    warm_until: float = 0.0
    # What the provider says of itself while warming up, before its first SERVING: jobs wait only
    # for one whose models may take them. Never routed on.
    preview: Catalog | None = None
    state: router_pb.EndpointState.ValueType = router_pb.ENDPOINT_STATE_PENDING
    state_since: float = field(default_factory=time.time)
    detail: str = "waiting for first SERVING"
    catalog: Catalog | None = None
    in_flight: int = 0
    # Leaving the mesh: routes no new jobs, keeps its channel for those in flight (see Router.retire).
    draining: bool = False
    last_failure: float = float("-inf")
    # When the health Watch stream last spoke, and whether its server repeats itself (heartbeats).
    last_heard: float = 0.0
    heartbeats: bool = False
    signals: EndpointSignals = field(default_factory=lambda: EndpointSignals(HealthSettings()))
    # How the router dials it: TLS (files read when the channel is made) or plaintext when None.
    tls: ClientTls | None = None
    channel: grpc.aio.Channel = field(init=False)
    # Set whenever no job is in flight: what a draining endpoint waits for before its channel closes.
    idle: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()
        # Redial a lost provider often: a restarted one should get traffic within a second.
        self.channel = open_channel(self.address, self.tls, max_reconnect_backoff_ms=_REDIAL_MAX_MS)
        # Transform is relayed byte for byte: no deserializer, no serializer.
        self.transform: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = self.channel.unary_stream(
            method_path(TRANSFORM)
        )
        self.watch_health = self.channel.unary_stream(
            method_path(WATCH),
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        self.check_health = self.channel.unary_unary(
            method_path(CHECK),
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        self.models = model_grpc.ModelServiceStub(self.channel)
        self.provider = provider_grpc.ProviderServiceStub(self.channel)

    def begin_call(self) -> None:
        """Counts a job in flight on this endpoint."""
        self.in_flight += 1
        self.idle.clear()

    def end_call(self) -> None:
        """Counts a job in flight as ended."""
        self.in_flight -= 1
        if self.in_flight <= 0:
            self.idle.set()

    @property
    def routable(self) -> bool:
        """Serving and described."""
        return self.state == router_pb.ENDPOINT_STATE_SERVING and self.catalog is not None

    def warming(self, now: float) -> bool:
        """Launched by the router and still warming up: never served yet, not failed, not timed out."""
        return self.catalog is None and not self.draining and now < self.warm_until

    @property
    def last_resort(self) -> bool:
        """Ejected but still saying it serves: taken only when nothing SERVING can take a job."""
        return self.state == router_pb.ENDPOINT_STATE_EJECTED and self.catalog is not None

    def to_proto(self) -> router_pb.ProviderEndpoint:
        """The endpoint as `ListProviders` shows it."""
        since = timestamp_pb2.Timestamp()
        since.FromNanoseconds(int(self.state_since * 1e9))
        message = router_pb.ProviderEndpoint(
            address=self.address,
            state=self.state,
            source=self.source,
            in_flight=self.in_flight,
            state_since=since,
            detail=self.detail,
            priority=self.priority,
        )
        if self.catalog is not None:
            message.provider.CopyFrom(self.catalog.info)
        elif self.name:
            message.provider.id = self.name
        return message


class Registry:
    """All known endpoints, with change notification for watchers and waiting callers."""

    def __init__(self, settings: HealthSettings | None = None, tls: ClientTls | None = None) -> None:
        self.settings = settings or HealthSettings()
        self.tls = tls
        self._endpoints: dict[str, Endpoint] = {}
        # Set and replaced on every change: whoever waits holds the event of its moment.
        self._changed = asyncio.Event()
        self._watchers: set[Watch] = set()

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(list(self._endpoints.values()))

    def get(self, address: str) -> Endpoint | None:
        """The endpoint at `address`, if known."""
        return self._endpoints.get(address)

    def add(
        self, address: str, source: router_pb.DiscoverySource.ValueType, priority: int = 0, name: str = ""
    ) -> Endpoint:
        """Adds an endpoint, or returns the one already at `address`.

        A draining endpoint found again (a provider back on the same address) is
        taken back as new: pending until its first SERVING, from `source` now.
        `name` is the provider expected there, listed until its catalog comes.
        """
        existing = self._endpoints.get(address)
        if existing is not None and existing.draining:
            existing.draining, existing.source, existing.priority = False, source, priority
            existing.name = name
            existing.signals = EndpointSignals(self.settings)
            log.info("endpoint %s back (%s)", address, router_pb.DiscoverySource.Name(source))
            self.refresh(existing)
            return existing
        if existing is not None:
            return existing
        endpoint = Endpoint(address=address, source=source, priority=priority, name=name, tls=self.tls)
        endpoint.signals = EndpointSignals(self.settings)
        self._endpoints[address] = endpoint
        log.info("endpoint %s added (%s)", address, router_pb.DiscoverySource.Name(source))
        self._publish(router_pb.ENDPOINT_CHANGE_ADDED, endpoint)
        return endpoint

    def drain(self, address: str, why: str) -> Endpoint | None:
        """Stops routing to the endpoint at `address` at once; its jobs in flight go on."""
        endpoint = self._endpoints.get(address)
        if endpoint is None or endpoint.draining:
            return endpoint
        endpoint.draining = True
        endpoint.detail = why
        self.refresh(endpoint)
        return endpoint

    async def remove(self, address: str) -> None:
        """Forgets the endpoint at `address` and closes its channel (any call still on it ends)."""
        endpoint = self._endpoints.pop(address, None)
        if endpoint is None:
            return
        log.info("endpoint %s removed", address)
        self._publish(router_pb.ENDPOINT_CHANGE_REMOVED, endpoint)
        await endpoint.channel.close()

    def refresh(self, endpoint: Endpoint, catalog: Catalog | None = None) -> None:
        """Applies the verdict of the endpoint's signals (and a fresh catalog); tells whoever waits."""
        if catalog is not None:
            endpoint.catalog = catalog
        verdict = (
            Verdict(router_pb.ENDPOINT_STATE_DRAINING, endpoint.detail)
            if endpoint.draining
            else endpoint.signals.verdict()
        )
        state = verdict.state
        if endpoint.state == state and catalog is None:
            endpoint.detail = verdict.detail
            return
        previous = router_pb.EndpointState.Name(endpoint.state)
        endpoint.state, endpoint.detail, endpoint.state_since = state, verdict.detail, time.time()
        log.info(
            "endpoint %s: %s -> %s %s",
            endpoint.address,
            previous,
            router_pb.EndpointState.Name(state),
            verdict.detail,
        )
        self._publish(router_pb.ENDPOINT_CHANGE_UPDATED, endpoint)

    def _publish(self, change: router_pb.EndpointChange.ValueType, endpoint: Endpoint) -> None:
        event = router_pb.WatchProvidersResponse(change=change, endpoint=endpoint.to_proto())
        for queue in self._watchers:
            queue.put_nowait(event)
        self._changed.set()
        self._changed = asyncio.Event()

    def previewed(self, endpoint: Endpoint, preview: Catalog) -> None:
        """Notes what a warming provider will serve; tells whoever waits for it."""
        endpoint.preview = preview
        self._publish(router_pb.ENDPOINT_CHANGE_UPDATED, endpoint)

    def stop_warming(self, address: str) -> None:
        """The provider at `address` failed to start: jobs stop waiting for it."""
        endpoint = self._endpoints.get(address)
        if endpoint is not None and endpoint.warm_until:
            endpoint.warm_until = 0.0
            self._publish(router_pb.ENDPOINT_CHANGE_UPDATED, endpoint)

    async def wait_changed(self, timeout: float | None) -> None:
        """Returns at the next registry change, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def watch(self) -> Watch:
        """A queue holding every endpoint as ADDED, then each change; `unwatch` it when done."""
        queue: Watch = asyncio.Queue()
        for endpoint in self:
            queue.put_nowait(
                router_pb.WatchProvidersResponse(
                    change=router_pb.ENDPOINT_CHANGE_ADDED, endpoint=endpoint.to_proto()
                )
            )
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: Watch) -> None:
        """Stops feeding a queue from `watch`."""
        self._watchers.discard(queue)

    async def close(self) -> None:
        """Closes every endpoint's channel."""
        for endpoint in self:
            await endpoint.channel.close()
