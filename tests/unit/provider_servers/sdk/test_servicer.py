"""The servicers turn the SDK's enums into wire values, and refuse wire values no enum holds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import grpc
import pytest
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc

from prizm_core.channels import insecure_channel
from prizm_core.errors import PrizmError
from prizm_core.handlers import add_service
from prizm_core.serving import GrpcServer, ServeSettings
from provider_servers.sdk import (
    Capability,
    Event,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Provider,
    ProviderKind,
    Usage,
)
from provider_servers.sdk.capacity import JobTracker
from provider_servers.sdk.harness import MODEL_SERVICE, PROVIDER_SERVICE
from provider_servers.sdk.servicer import ModelServicer, ProviderServicer

MODEL = ModelSpec(
    id="upper-1",
    display_name="Upper",
    description="Upper-cases text.",
    capabilities=(Capability.TEXT_TO_TEXT, Capability.IMAGE_TO_TEXT),
    prices={MediaUnit.INPUT_CHARACTER: 0.5, MediaUnit.REQUEST: 2.0},
)


class _Upper(Provider):
    id = "upper"
    display_name = "Upper"
    kind = ProviderKind.REMOTE

    def models(self) -> Sequence[ModelSpec]:
        return [MODEL]

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        return {MediaUnit.REQUEST: 1.0}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        text = job.inputs[0].read()
        yield Output(kind=MediaKind.TEXT, mime_type="text/plain", data=text.upper())
        yield Usage({MediaUnit.INPUT_CHARACTER: float(len(text))})


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    provider, tracker = _Upper(), JobTracker()
    server = GrpcServer(ServeSettings(), [PROVIDER_SERVICE.full_name, MODEL_SERVICE.full_name])
    info = ProviderServicer(provider, tracker, server.set_serving)
    add_service(server.server, PROVIDER_SERVICE, info)
    add_service(server.server, MODEL_SERVICE, ModelServicer(provider, tracker))
    address = await server.start()
    await info.set_running(True, "ready")
    try:
        async with insecure_channel(address) as connected:
            yield connected
    finally:
        await server.stop()


def _asset(kind: int, data: bytes = b"hi") -> media_pb.Asset:
    return media_pb.Asset(kind=kind, mime_type="text/plain", data=data)  # type: ignore[arg-type]


async def test_identity_and_models_go_out_as_wire_values(channel: grpc.aio.Channel) -> None:
    stub = provider_grpc.ProviderServiceStub(channel)
    info = (await stub.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)).provider
    assert info.kind == catalog_pb.PROVIDER_KIND_REMOTE
    assert list(info.capabilities) == [media_pb.CAPABILITY_TEXT_TO_TEXT, media_pb.CAPABILITY_IMAGE_TO_TEXT]
    (model,) = (await stub.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models
    assert [(p.unit, p.amount_per_unit) for p in model.pricing.prices] == [
        (catalog_pb.MEDIA_UNIT_REQUEST, 2.0),
        (catalog_pb.MEDIA_UNIT_INPUT_CHARACTER, 0.5),
    ]
    only_audio = provider_pb.ListModelsRequest(capability=media_pb.CAPABILITY_TEXT_TO_AUDIO)
    assert list((await stub.ListModels(only_audio, timeout=5)).models) == []
    only_ocr = provider_pb.ListModelsRequest(capability=media_pb.CAPABILITY_IMAGE_TO_TEXT)
    assert [m.id for m in (await stub.ListModels(only_ocr, timeout=5)).models] == ["upper-1"]


async def test_a_job_runs_with_domain_enums_and_reports_wire_values(channel: grpc.aio.Channel) -> None:
    stub = model_grpc.ModelServiceStub(channel)
    request = model_pb.TransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_TEXT, inputs=[_asset(media_pb.MEDIA_KIND_TEXT, b"shout")]
    )
    events = [event async for event in stub.Transform(request, timeout=5)]
    header = next(e.output_header for e in events if e.HasField("output_header"))
    assert header.asset.kind == media_pb.MEDIA_KIND_TEXT
    assert b"".join(e.output_chunk.data for e in events if e.HasField("output_chunk")) == b"SHOUT"
    completion = events[-1].completion
    assert [(u.unit, u.quantity) for u in completion.usage] == [(catalog_pb.MEDIA_UNIT_INPUT_CHARACTER, 5.0)]
    assert completion.cost.amount == 2.5


TEXT_TO_TEXT = media_pb.CAPABILITY_TEXT_TO_TEXT


@pytest.mark.parametrize(
    ("capability", "kind", "violation"),
    [
        (TEXT_TO_TEXT, media_pb.MEDIA_KIND_UNSPECIFIED, ("inputs[0].kind", "is required")),
        (TEXT_TO_TEXT, 99, ("inputs[0].kind", "unknown media kind 99")),
        (TEXT_TO_TEXT, media_pb.MEDIA_KIND_AUDIO, ("inputs[0].kind", "must be TEXT")),
        (media_pb.CAPABILITY_IMAGE_TO_TEXT, media_pb.MEDIA_KIND_TEXT, ("inputs[0].kind", "must be IMAGE")),
        (media_pb.CAPABILITY_UNSPECIFIED, media_pb.MEDIA_KIND_TEXT, ("capability", "is required")),
        (77, media_pb.MEDIA_KIND_TEXT, ("capability", "unknown capability 77")),
    ],
)
async def test_values_no_enum_holds_are_refused_before_any_work(
    channel: grpc.aio.Channel, capability: int, kind: int, violation: tuple[str, str]
) -> None:
    stub = model_grpc.ModelServiceStub(channel)
    request = model_pb.ValidateInputRequest(capability=capability, inputs=[_asset(kind)])  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stub.ValidateInput(request, timeout=5)
    error = PrizmError.from_rpc_error(failure.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    assert error.field_violations == (violation,)
