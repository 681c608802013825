"""Real catalogs and endpoints for routing and registry tests."""

from __future__ import annotations

from collections.abc import Sequence

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.router.registry import Catalog, Endpoint, ModelEntry

TTS = media_pb.CAPABILITY_TEXT_TO_AUDIO
STT = media_pb.CAPABILITY_AUDIO_TO_TEXT
TTI = media_pb.CAPABILITY_TEXT_TO_IMAGE


def catalog(
    provider_id: str,
    models: Sequence[tuple[str, Sequence[media_pb.Capability.ValueType]]],
    kind: catalog_pb.ProviderKind.ValueType = catalog_pb.PROVIDER_KIND_REMOTE,
) -> Catalog:
    """A catalog as the health monitor builds it from `GetProviderInfo` and `ListModels`."""
    messages = [
        catalog_pb.Model(id=model_id, capabilities=list(capabilities), provider_id=provider_id)
        for model_id, capabilities in models
    ]
    info = catalog_pb.ProviderInfo(
        id=provider_id,
        display_name=provider_id.title(),
        kind=kind,
        capabilities=sorted({c for m in messages for c in m.capabilities}),
    )
    entries = tuple(ModelEntry(id=m.id, capabilities=frozenset(m.capabilities), message=m) for m in messages)
    return Catalog(info=info, models=entries)


def endpoint(
    port: int,
    described: Catalog | None,
    *,
    state: router_pb.EndpointState.ValueType = router_pb.ENDPOINT_STATE_SERVING,
    priority: int = 0,
    in_flight: int = 0,
) -> Endpoint:
    """An endpoint on a loopback port nothing listens on; its channel never connects."""
    made = Endpoint(address=f"127.0.0.1:{port}", source=router_pb.DISCOVERY_SOURCE_STATIC, priority=priority)
    made.state = state
    made.catalog = described
    made.in_flight = in_flight
    return made
