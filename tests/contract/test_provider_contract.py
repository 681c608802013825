"""The behaviour every provider owes the mesh, run against each provider as its own server."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc

from prizm_core.channels import insecure_channel
from prizm_core.errors import PrizmError
from prizm_core.options import options_struct
from tests.contract.case import Case
from tests.contract.cases import CASES
from tests.support.mesh import wait_until
from tests.support.processes import ServerProcess


@dataclass
class Subject:
    """A provider under test: its case, channel and stubs."""

    case: Case
    server: ServerProcess
    channel: grpc.aio.Channel
    models: model_grpc.ModelServiceAsyncStub
    provider: provider_grpc.ProviderServiceAsyncStub

    async def status(self) -> provider_pb.ServiceStatus:
        response = await self.provider.GetServiceStatus(provider_pb.GetServiceStatusRequest(), timeout=5)
        return response.status


@pytest.fixture(params=sorted(CASES))
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    case = CASES[request.param]
    server: ServerProcess = request.getfixturevalue(case.provider)
    channel = insecure_channel(server.address)
    health = health_pb2_grpc.HealthStub(channel)
    serving = health_pb2.HealthCheckResponse.SERVING

    async def ready() -> bool:
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)  # type: ignore[attr-defined]
        return bool(answer.status == serving)

    await wait_until(ready, timeout=60, interval=0.05)
    yield Subject(
        case=case,
        server=server,
        channel=channel,
        models=model_grpc.ModelServiceStub(channel),  # type: ignore[arg-type]
        provider=provider_grpc.ProviderServiceStub(channel),  # type: ignore[arg-type]
    )
    await channel.close()


def _request(subject: Subject, **fields: object) -> model_pb.TransformRequest:
    case = subject.case
    request = model_pb.TransformRequest(
        capability=case.capability,
        model=case.model,
        inputs=[case.sample()],
        options=options_struct(dict(case.options or {})),
    )
    for name, value in fields.items():
        if name == "options":
            request.options.CopyFrom(options_struct(value))  # type: ignore[arg-type]
        elif name == "inputs":
            del request.inputs[:]
            request.inputs.extend(value)  # type: ignore[arg-type]
        else:
            setattr(request, name, value)
    return request


async def _failure(call: object) -> PrizmError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if hasattr(call, "__aiter__"):
            async for _ in call:  # type: ignore[attr-defined]
                pass
        else:
            await call  # type: ignore[misc]
    return PrizmError.from_rpc_error(caught.value)


async def test_describes_itself(subject: Subject) -> None:
    info = (await subject.provider.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)).provider
    assert info.id == subject.case.provider
    assert subject.case.capability in info.capabilities
    assert info.kind != catalog_pb.PROVIDER_KIND_UNSPECIFIED
    assert info.version and info.display_name and info.description


async def test_lists_models_with_a_sound_schema(subject: Subject) -> None:
    info = (await subject.provider.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)).provider
    models = (await subject.provider.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models
    assert models
    for model in models:
        assert model.id and model.display_name and model.description and model.output_mime_type
        assert set(model.capabilities) <= set(info.capabilities)
        for param in model.parameters:
            assert param.name and param.type != catalog_pb.PARAMETER_TYPE_UNSPECIFIED
            if param.HasField("default_value") and param.type == catalog_pb.PARAMETER_TYPE_NUMBER:
                value = param.default_value.number_value
                assert not param.HasField("minimum") or value >= param.minimum
                assert not param.HasField("maximum") or value <= param.maximum
    unserved = next(c for c in media_pb.Capability.values() if c and c not in info.capabilities)
    filtered = await subject.provider.ListModels(
        provider_pb.ListModelsRequest(capability=unserved), timeout=5
    )
    assert list(filtered.models) == []


async def test_serves_health_and_reflection(subject: Subject) -> None:
    health = health_pb2_grpc.HealthStub(subject.channel)
    for service in ("", "prizm.v1.ModelService", "prizm.v1.ProviderService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)  # type: ignore[attr-defined]
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)  # type: ignore[attr-defined]
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    watch = health.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)  # type: ignore[attr-defined]
    first = await watch.read()
    watch.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    stub = reflection_pb2_grpc.ServerReflectionStub(subject.channel)
    call = stub.ServerReflectionInfo(timeout=5)  # type: ignore[attr-defined]
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = {s.name for s in (await call.read()).list_services_response.service}
    call.cancel()
    assert {"prizm.v1.ModelService", "prizm.v1.ProviderService", "grpc.health.v1.Health"} <= listed


async def test_validate_input_fills_in_defaults(subject: Subject) -> None:
    request = _request(subject)
    answer = await subject.models.ValidateInput(
        model_pb.ValidateInputRequest(
            capability=request.capability, model=request.model, inputs=request.inputs
        ),
        timeout=10,
    )
    models = (await subject.provider.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models
    model = next(m for m in models if m.id == answer.model_id)
    defaults = {p.name for p in model.parameters if p.HasField("default_value")}
    assert set(answer.options.keys()) == defaults
    assert answer.model_id == (subject.case.model or answer.model_id)


async def test_estimates_cost_in_media_units(subject: Subject) -> None:
    request = _request(subject)
    answer = await subject.models.EstimateCost(
        model_pb.EstimateCostRequest(
            capability=request.capability, model=request.model, inputs=request.inputs, options=request.options
        ),
        timeout=10,
    )
    assert answer.model_id
    assert answer.cost.currency == "USD" and answer.cost.amount >= 0
    assert answer.usage and all(
        u.quantity > 0 for u in answer.usage if u.unit != catalog_pb.MEDIA_UNIT_REQUEST
    )


async def test_transforms_for_real(subject: Subject) -> None:
    events = [e async for e in subject.models.Transform(_request(subject, job_id="contract-job"), timeout=60)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert {e.job_id for e in events} == {"contract-job"}
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "progress" and kinds[-1] == "completion"
    assert kinds.count("output_header") == 1
    data = b"".join(e.output_chunk.data for e in events if e.WhichOneof("event") == "output_chunk")
    subject.case.check(data)
    (summary,) = events[-1].completion.outputs
    assert summary.sha256 == hashlib.sha256(data).hexdigest() and summary.size_bytes == len(data)
    assert summary.provenance.provider_id == subject.case.provider
    assert summary.provenance.job_id == "contract-job"
    assert list(summary.provenance.input_sha256) == [hashlib.sha256(subject.case.sample().data).hexdigest()]


async def test_rejects_bad_requests_before_any_work(subject: Subject) -> None:
    finished = (await subject.status()).finished_jobs
    bogus = await _failure(subject.models.Transform(_request(subject, options={"bogus": 1}), timeout=10))
    assert bogus.code == grpc.StatusCode.INVALID_ARGUMENT and bogus.reason == "INVALID_OPTIONS"
    assert dict(bogus.field_violations).keys() == {"options.bogus"}
    kind = await _failure(
        subject.models.Transform(_request(subject, inputs=[subject.case.wrong_kind()]), timeout=10)
    )
    assert kind.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(name.startswith("inputs[0]") for name, _ in kind.field_violations)
    empty = await _failure(subject.models.Transform(_request(subject, inputs=[]), timeout=10))
    assert empty.code == grpc.StatusCode.INVALID_ARGUMENT
    model = await _failure(subject.models.Transform(_request(subject, model="no-such-model"), timeout=10))
    assert model.code == grpc.StatusCode.NOT_FOUND and model.reason == "MODEL_NOT_FOUND"
    unspecified = await _failure(
        subject.models.Transform(_request(subject, capability=media_pb.CAPABILITY_UNSPECIFIED), timeout=10)
    )
    assert unspecified.code == grpc.StatusCode.INVALID_ARGUMENT
    nameless = await _failure(subject.models.Transform(_request(subject, capability=99), timeout=10))
    assert nameless.code == grpc.StatusCode.INVALID_ARGUMENT
    assert nameless.field_violations == (("capability", "unknown capability 99"),)
    assert (await subject.status()).finished_jobs == finished, "a rejected request must not start a job"


async def test_cancel_mid_stream_stops_the_job(subject: Subject) -> None:
    request = _request(subject, inputs=[subject.case.long_input()])
    if subject.case.long_options:
        request.options.CopyFrom(options_struct(dict(subject.case.long_options)))
    call = subject.models.Transform(request, timeout=120)
    async for event in call:
        if event.WhichOneof("event") == "progress" and event.progress.fraction > 0:
            assert event.progress.fraction < 0.5
            break
    call.cancel()
    cancelled = time.monotonic()

    async def idle() -> bool:
        return (await subject.status()).active_jobs == 0

    await wait_until(idle, timeout=5)
    assert time.monotonic() - cancelled < 1.0


async def test_manages_its_service_and_settings(subject: Subject) -> None:
    status = await subject.status()
    assert status.state == provider_pb.SERVICE_STATE_RUNNING
    started = await subject.provider.StartService(provider_pb.StartServiceRequest(), timeout=5)
    assert started.status.state == provider_pb.SERVICE_STATE_RUNNING
    if not status.managed:
        stop = await _failure(subject.provider.StopService(provider_pb.StopServiceRequest(), timeout=5))
        assert stop.code == grpc.StatusCode.FAILED_PRECONDITION and stop.reason == "SERVICE_NOT_MANAGED"
    unknown = await _failure(
        subject.provider.Configure(provider_pb.ConfigureRequest(settings={"no_such": "x"}), timeout=5)
    )
    assert unknown.code == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(unknown.field_violations).keys() == {"settings.no_such"}


async def test_an_option_value_with_no_kind_is_an_invalid_option(subject: Subject) -> None:
    # What a client that misspells a Struct field sends: `google.protobuf.Value` with no kind set.
    request = _request(subject)
    models = (await subject.provider.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models
    model = next(m for m in models if request.model in ("", m.id) and request.capability in m.capabilities)
    name = model.parameters[0].name if model.parameters else "unnamed"
    request.options.fields[name].Clear()
    fields = {
        "capability": request.capability,
        "model": request.model,
        "inputs": request.inputs,
        "options": request.options,
    }
    calls = (
        subject.models.Transform(request, timeout=10),
        subject.models.EstimateCost(model_pb.EstimateCostRequest(**fields), timeout=10),
        subject.models.ValidateInput(model_pb.ValidateInputRequest(**fields), timeout=10),
    )
    for call in calls:
        error = await _failure(call)
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
        assert [field for field, _ in error.field_violations] == [f"options.{name}"]
