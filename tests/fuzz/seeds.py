"""The RPCs to fuzz, taken from their descriptors, and valid seed requests for each.

Seeds are realistic requests: a short synthetic text-to-text job, estimates and validations, model
lists by capability, registrations of addresses where nothing listens, made-up asset URIs, uploads,
health checks and reflection queries. None configures a fault: the synthetic provider's `refuse`,
`fail_with`, `block_loop_s` and `price_per_request` settings stay out (`sane` also drops a mutation
that would turn into one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import duration_pb2, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.assets import text_asset
from prizm_core.config import ConfigError, parse_address
from prizm_core.options import options_struct

__all__ = ["PROVIDER_SERVICES", "ROUTER_SERVICES", "Method", "methods", "sane"]

# Typed loosely: the stubs give health and reflection (upb) descriptors a type of their own.
ROUTER_SERVICES: tuple[Any, ...] = (
    router_pb.DESCRIPTOR.services_by_name["RouterService"],
    model_pb.DESCRIPTOR.services_by_name["ModelService"],
    provider_pb.DESCRIPTOR.services_by_name["ProviderService"],
    asset_pb.DESCRIPTOR.services_by_name["AssetService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
)
PROVIDER_SERVICES: tuple[Any, ...] = (
    model_pb.DESCRIPTOR.services_by_name["ModelService"],
    provider_pb.DESCRIPTOR.services_by_name["ProviderService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
)
# Addresses a mutated RegisterProvider may name: nothing listens on them, and there are few, so
# the router dials a bounded set (a registration elsewhere would make it dial anything at all).
QUIET_ADDRESSES = ("127.0.0.1:1", "127.0.0.1:9", "[::1]:1")
FAULT_SETTINGS = frozenset({"refuse", "fail_with", "block_loop_s", "price_per_request"})
# A job the fuzzer may start: at most this long a pause before each event.
MAX_INTERVAL_MS = 20.0
# Streams that never end by themselves: read this many messages, then cancel.
ENDLESS = {"grpc.health.v1.Health.Watch": 1, "prizm.v1.RouterService.WatchProviders": 1}
READ_AT_MOST = 64

TEXT = media_pb.CAPABILITY_TEXT_TO_TEXT
JOB_OPTIONS = {"events": 2, "interval_ms": 0, "output_bytes": 64}


@dataclass(frozen=True)
class Method:
    """One RPC of one server: its path, request type, streaming shape and seeds (serialized)."""

    full_name: str
    path: str
    request: Descriptor
    client_streaming: bool
    server_streaming: bool
    seeds: tuple[tuple[bytes, ...], ...]  # each seed: the messages of one call

    @property
    def read_at_most(self) -> int:
        """Response messages read before the call is cancelled."""
        return ENDLESS.get(self.full_name, READ_AT_MOST)


def _job(**fields: Any) -> dict[str, Any]:
    return {"capability": TEXT, "model": "synthetic-v1", "inputs": [text_asset("hello, fuzz")], **fields}


def _seed_messages(uploaded_uri: str) -> dict[str, list[Message]]:
    """Seed requests by request type name; several per type where the fields allow it."""
    options = options_struct(JOB_OPTIONS)
    by_uri = media_pb.Asset(kind=media_pb.MEDIA_KIND_TEXT, mime_type="text/plain", uri=uploaded_uri)
    hints = router_pb.RoutingHints(
        provider="synthetic",
        policy=router_pb.ROUTING_POLICY_CHEAPEST,
        max_cost=media_pb.Cost(currency="USD", amount=1.0),
        allow_fallback=True,
    )
    lease = duration_pb2.Duration(seconds=2)
    return {
        "ListProvidersRequest": [router_pb.ListProvidersRequest()],
        "RouterServiceListModelsRequest": [
            router_pb.RouterServiceListModelsRequest(capability=TEXT),
            router_pb.RouterServiceListModelsRequest(capability=TEXT, provider="synthetic"),
        ],
        "RouterServiceTransformRequest": [
            router_pb.RouterServiceTransformRequest(
                **_job(options=options, job_id="fuzz-job", routing=hints)
            ),
            router_pb.RouterServiceTransformRequest(**_job(options=options)),
            router_pb.RouterServiceTransformRequest(capability=TEXT, inputs=[by_uri], options=options),
        ],
        "RouterServiceEstimateCostRequest": [
            router_pb.RouterServiceEstimateCostRequest(**_job(options=options, routing=hints))
        ],
        "RegisterProviderRequest": [
            router_pb.RegisterProviderRequest(address=QUIET_ADDRESSES[0], priority=1, lease=lease),
            router_pb.RegisterProviderRequest(address=QUIET_ADDRESSES[1], lease=lease),
            router_pb.RegisterProviderRequest(address="not an address"),
        ],
        "DeregisterProviderRequest": [
            router_pb.DeregisterProviderRequest(address=QUIET_ADDRESSES[0]),
            router_pb.DeregisterProviderRequest(address="[::1"),
        ],
        "WatchProvidersRequest": [router_pb.WatchProvidersRequest()],
        "TransformRequest": [
            model_pb.TransformRequest(**_job(options=options, job_id="fuzz-job")),
            model_pb.TransformRequest(**_job(options=options_struct({"events": 0, "echo_metadata": True}))),
        ],
        "EstimateCostRequest": [model_pb.EstimateCostRequest(**_job(options=options))],
        "ValidateInputRequest": [model_pb.ValidateInputRequest(**_job(options=options))],
        "GetProviderInfoRequest": [provider_pb.GetProviderInfoRequest()],
        "ListModelsRequest": [
            provider_pb.ListModelsRequest(capability=TEXT),
            provider_pb.ListModelsRequest(),
        ],
        "GetServiceStatusRequest": [provider_pb.GetServiceStatusRequest()],
        "StartServiceRequest": [provider_pb.StartServiceRequest()],
        "StopServiceRequest": [provider_pb.StopServiceRequest()],
        "ConfigureRequest": [
            provider_pb.ConfigureRequest(settings={"colour": "blue"}),
            provider_pb.ConfigureRequest(),
        ],
        "DownloadAssetRequest": [
            asset_pb.DownloadAssetRequest(uri=uploaded_uri),
            asset_pb.DownloadAssetRequest(uri="prizm-asset://0123456789abcdef0123456789abcdef"),
        ],
        "DeleteAssetRequest": [
            asset_pb.DeleteAssetRequest(uri="prizm-asset://fedcba9876543210fedcba9876543210"),
            asset_pb.DeleteAssetRequest(uri="file:///etc/passwd"),
        ],
        "HealthCheckRequest": [
            health_pb2.HealthCheckRequest(service=""),
            health_pb2.HealthCheckRequest(service="prizm.v1.ModelService"),
            health_pb2.HealthCheckRequest(service="no.such.Service"),
        ],
        "HealthListRequest": [message_factory.GetMessageClass(_health_list())()],
        "ServerReflectionRequest": [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="prizm.v1.ModelService"),
            reflection_pb2.ServerReflectionRequest(file_by_filename="prizm/v1/media.proto"),
            reflection_pb2.ServerReflectionRequest(all_extension_numbers_of_type="prizm.v1.Asset"),
            reflection_pb2.ServerReflectionRequest(
                host="localhost",
                file_containing_extension=reflection_pb2.ExtensionRequest(
                    containing_type="google.protobuf.Struct", extension_number=1
                ),
            ),
        ],
    }


def _health_list() -> Any:
    return health_pb2.DESCRIPTOR.message_types_by_name["HealthListRequest"]


def _uploads() -> list[list[Message]]:
    """Upload streams: a header, then chunks that add up to its size and hash."""
    data = b"fuzzed upload " * 20
    header = media_pb.Asset(
        kind=media_pb.MEDIA_KIND_TEXT,
        mime_type="text/plain",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        metadata={"name": "fuzz.txt"},
    )
    chunks = [asset_pb.UploadAssetRequest(chunk=data[i : i + 100]) for i in range(0, len(data), 100)]
    return [
        [asset_pb.UploadAssetRequest(header=header), *chunks],
        [asset_pb.UploadAssetRequest(header=media_pb.Asset(kind=media_pb.MEDIA_KIND_TEXT, mime_type="x/y"))],
    ]


def _reflection_streams(singles: list[Message]) -> list[list[Message]]:
    """One request per call, and all of them on one call."""
    return [[single] for single in singles] + [list(singles)]


def methods(services: Sequence[Any], uploaded_uri: str) -> list[Method]:
    """Every RPC of `services` with its seeds; fails for an RPC that has none, so none is skipped."""
    singles = _seed_messages(uploaded_uri)
    found = []
    for service in services:
        for rpc in service.methods:
            name = rpc.input_type.name
            if name == "UploadAssetRequest":
                streams = _uploads()
            elif rpc.client_streaming:
                streams = _reflection_streams(singles[name])
            else:
                streams = [[message] for message in singles[name]]
            found.append(
                Method(
                    full_name=rpc.full_name,
                    path=f"/{service.full_name}/{rpc.name}",
                    request=rpc.input_type,
                    client_streaming=rpc.client_streaming,
                    server_streaming=rpc.server_streaming,
                    seeds=tuple(tuple(m.SerializeToString() for m in stream) for stream in streams),
                )
            )
    return found


def _decoded(request: Descriptor, raw: bytes) -> Message | None:
    try:
        return message_factory.GetMessageClass(request).FromString(raw)
    except (DecodeError, RuntimeError, ValueError):
        return None


def _quiet_registration(message: Any) -> bool:
    if message.address in QUIET_ADDRESSES:
        return True
    try:
        parse_address(message.address)
    except ConfigError:
        return True  # refused before anything is dialled
    return False


def _short_job(message: Any) -> bool:
    interval = message.options.fields.get("interval_ms")
    return (
        interval is None or not interval.HasField("number_value") or interval.number_value <= MAX_INTERVAL_MS
    )


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "RegisterProviderRequest": _quiet_registration,
    "ConfigureRequest": lambda message: not FAULT_SETTINGS & set(message.settings),
    "TransformRequest": _short_job,
    "RouterServiceTransformRequest": _short_job,
}


def sane(request: Descriptor, raw: bytes) -> bool:
    """Whether a mutated request may be sent: one that decodes must not configure a fault, make the
    router dial a new address, or start a job slower than the fuzzer's deadline allows."""
    check = _CHECKS.get(request.name)
    if check is None:
        return True
    message = _decoded(request, raw)
    return message is None or check(message)
