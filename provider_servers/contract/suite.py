"""The behaviour every provider owes the mesh, run against each provider as its own server.

Collected by `pytest -p provider_servers.contract.plugin --pyargs provider_servers.contract.suite`,
or by a test module of your own that imports `*` from here (as Prizm's `tests/contract/` does).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterable, Awaitable, Mapping

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc

from prizm_core.channels import insecure_channel
from prizm_core.errors import PrizmError, Reason
from prizm_core.options import options_struct
from provider_servers.contract.plugin import ProviderServers, Subject, declared_cases
from provider_servers.contract.polling import wait_until
from provider_servers.contract.processes import descendants
from provider_servers.sdk import InputAsset, OptionValue

__all__ = [
    "pytestmark",
    "test_an_option_value_with_no_kind_is_an_invalid_option",
    "test_cancel_mid_stream_stops_the_job_and_its_processes",
    "test_declares_a_case_for_every_model",
    "test_describes_itself",
    "test_estimates_cost_in_media_units",
    "test_lists_models_with_a_sound_schema",
    "test_manages_its_service_and_settings",
    "test_rejects_bad_requests_before_any_work",
    "test_serves_health_and_reflection",
    "test_transforms_for_real",
    "test_validate_input_fills_in_defaults",
]

# Explicit, so the suite runs the same under pytest-asyncio's strict mode (its default) and auto mode.
pytestmark = pytest.mark.asyncio


def _asset(asset: InputAsset) -> media_pb.Asset:
    return media_pb.Asset(
        kind=int(asset.kind),  # type: ignore[arg-type]
        mime_type=asset.mime_type,
        data=asset.read(),
        metadata=dict(asset.metadata),
    )


def _request(
    subject: Subject,
    inputs: list[InputAsset] | None = None,
    options: Mapping[str, OptionValue] | None = None,
    **fields: object,
) -> model_pb.TransformRequest:
    """The case's sample request, with `inputs`, `options` or other fields replaced when given."""
    case = subject.case
    request = model_pb.TransformRequest(
        capability=int(case.capability),  # type: ignore[arg-type]
        model=case.model,
        inputs=[_asset(asset) for asset in (inputs if inputs is not None else [case.sample()])],
        options=options_struct(dict(case.options if options is None else options)),
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return request


async def _failure(call: AsyncIterable[object] | Awaitable[object]) -> PrizmError:
    """The error a call ends with (it must end with one)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if isinstance(call, AsyncIterable):
            async for _ in call:
                pass
        else:
            await call
    return PrizmError.from_rpc_error(caught.value)


async def _models(subject: Subject) -> list[catalog_pb.Model]:
    return list((await subject.control.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models)


async def test_declares_a_case_for_every_model(
    contract_provider: str, prizm_servers: ProviderServers, pytestconfig: pytest.Config
) -> None:
    # Fails, never skips, for a provider that declares nothing: passing by omission is no pass.
    cases = declared_cases(pytestconfig, contract_provider)
    async with insecure_channel(prizm_servers.get(contract_provider).address) as channel:
        control = provider_grpc.ProviderServiceStub(channel)
        models = (await control.ListModels(provider_pb.ListModelsRequest(), timeout=5)).models
    default: dict[int, str] = {}  # capability -> the provider's default model: the first with it
    for model in reversed(models):
        default.update(dict.fromkeys(model.capabilities, model.id))
    exercised = {case.model or default.get(int(case.capability), "") for case in cases}
    missing = sorted({model.id for model in models} - exercised)
    assert not missing, f"models of {contract_provider} without a contract case: {missing}"


async def test_describes_itself(contract_subject: Subject) -> None:
    subject = contract_subject
    info = (await subject.control.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)).provider
    assert info.id == subject.provider
    assert int(subject.case.capability) in info.capabilities
    assert info.kind != catalog_pb.PROVIDER_KIND_UNSPECIFIED
    assert info.version and info.display_name and info.description


async def test_lists_models_with_a_sound_schema(contract_subject: Subject) -> None:
    subject = contract_subject
    info = (await subject.control.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)).provider
    models = await _models(subject)
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
    filtered = await subject.control.ListModels(provider_pb.ListModelsRequest(capability=unserved), timeout=5)
    assert list(filtered.models) == []


async def test_serves_health_and_reflection(contract_subject: Subject) -> None:
    channel = contract_subject.channel
    health = health_pb2_grpc.HealthStub(channel)
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
    # types-grpcio-reflection types the stub for sync channels only.
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[arg-type]
    call = stub.ServerReflectionInfo(timeout=5)  # type: ignore[operator]
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = {s.name for s in (await call.read()).list_services_response.service}
    call.cancel()
    assert {"prizm.v1.ModelService", "prizm.v1.ProviderService", "grpc.health.v1.Health"} <= listed


async def test_validate_input_fills_in_defaults(contract_subject: Subject) -> None:
    subject = contract_subject
    request = _request(subject)
    answer = await subject.models.ValidateInput(
        model_pb.ValidateInputRequest(
            capability=request.capability, model=request.model, inputs=request.inputs
        ),
        timeout=10,
    )
    model = next(m for m in await _models(subject) if m.id == answer.model_id)
    defaults = {p.name for p in model.parameters if p.HasField("default_value")}
    assert set(answer.options.keys()) == defaults
    assert answer.model_id == (subject.case.model or answer.model_id)


async def test_estimates_cost_in_media_units(contract_subject: Subject) -> None:
    request = _request(contract_subject)
    answer = await contract_subject.models.EstimateCost(
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


async def test_transforms_for_real(contract_subject: Subject) -> None:
    subject = contract_subject
    request = _request(subject, job_id="contract-job")
    events = [e async for e in subject.models.Transform(request, timeout=60)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert {e.job_id for e in events} == {"contract-job"}
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "progress" and kinds[-1] == "completion"
    assert kinds.count("output_header") == 1
    data = b"".join(e.output_chunk.data for e in events if e.WhichOneof("event") == "output_chunk")
    subject.case.check(data)
    (summary,) = events[-1].completion.outputs
    assert summary.sha256 == hashlib.sha256(data).hexdigest() and summary.size_bytes == len(data)
    assert summary.provenance.provider_id == subject.provider
    assert summary.provenance.job_id == "contract-job"
    assert list(summary.provenance.input_sha256) == [hashlib.sha256(request.inputs[0].data).hexdigest()]


async def test_rejects_bad_requests_before_any_work(contract_subject: Subject) -> None:
    subject = contract_subject
    finished = (await subject.status()).finished_jobs
    bogus = await _failure(subject.models.Transform(_request(subject, options={"bogus": 1}), timeout=10))
    assert bogus.code == grpc.StatusCode.INVALID_ARGUMENT and bogus.reason == Reason.INVALID_OPTIONS
    assert dict(bogus.field_violations).keys() == {"options.bogus"}
    wrong = [subject.case.wrong_kind()]
    kind = await _failure(subject.models.Transform(_request(subject, inputs=wrong), timeout=10))
    assert kind.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any(name.startswith("inputs[0]") for name, _ in kind.field_violations)
    empty = await _failure(subject.models.Transform(_request(subject, inputs=[]), timeout=10))
    assert empty.code == grpc.StatusCode.INVALID_ARGUMENT
    model = await _failure(subject.models.Transform(_request(subject, model="no-such-model"), timeout=10))
    assert model.code == grpc.StatusCode.NOT_FOUND and model.reason == Reason.MODEL_NOT_FOUND
    unspecified = await _failure(
        subject.models.Transform(_request(subject, capability=media_pb.CAPABILITY_UNSPECIFIED), timeout=10)
    )
    assert unspecified.code == grpc.StatusCode.INVALID_ARGUMENT
    nameless = await _failure(subject.models.Transform(_request(subject, capability=99), timeout=10))
    assert nameless.code == grpc.StatusCode.INVALID_ARGUMENT
    assert nameless.field_violations == (("capability", "unknown capability 99"),)
    assert (await subject.status()).finished_jobs == finished, "a rejected request must not start a job"


async def test_cancel_mid_stream_stops_the_job_and_its_processes(contract_subject: Subject) -> None:
    subject = contract_subject
    before = set(descendants(subject.server.pid))
    long_input = [subject.case.long_input()]
    request = _request(subject, inputs=long_input, options=subject.case.long_options or subject.case.options)
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

    async def no_process_left() -> bool:
        return not set(descendants(subject.server.pid)) - before

    try:
        await wait_until(no_process_left, timeout=5, interval=0.05)
    except AssertionError:
        left = sorted(set(descendants(subject.server.pid)) - before)
        raise AssertionError(
            f"processes the job started are still running after the cancel: {left}"
        ) from None


async def test_manages_its_service_and_settings(contract_subject: Subject) -> None:
    subject = contract_subject
    status = await subject.status()
    assert status.state == provider_pb.SERVICE_STATE_RUNNING
    started = await subject.control.StartService(provider_pb.StartServiceRequest(), timeout=5)
    assert started.status.state == provider_pb.SERVICE_STATE_RUNNING
    if not status.managed:
        stop = await _failure(subject.control.StopService(provider_pb.StopServiceRequest(), timeout=5))
        assert stop.code == grpc.StatusCode.FAILED_PRECONDITION and stop.reason == Reason.SERVICE_NOT_MANAGED
    unknown = await _failure(
        subject.control.Configure(provider_pb.ConfigureRequest(settings={"no_such": "x"}), timeout=5)
    )
    assert unknown.code == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(unknown.field_violations).keys() == {"settings.no_such"}


async def test_an_option_value_with_no_kind_is_an_invalid_option(contract_subject: Subject) -> None:
    # What a client that misspells a Struct field sends: `google.protobuf.Value` with no kind set.
    subject = contract_subject
    request = _request(subject)
    models = await _models(subject)
    model = next(m for m in models if request.model in ("", m.id) and request.capability in m.capabilities)
    name = model.parameters[0].name if model.parameters else "unnamed"
    request.options.fields[name].Clear()
    estimate = model_pb.EstimateCostRequest(
        capability=request.capability, model=request.model, inputs=request.inputs, options=request.options
    )
    validate = model_pb.ValidateInputRequest(
        capability=request.capability, model=request.model, inputs=request.inputs, options=request.options
    )
    calls = (
        subject.models.Transform(request, timeout=10),
        subject.models.EstimateCost(estimate, timeout=10),
        subject.models.ValidateInput(validate, timeout=10),
    )
    for call in calls:
        error = await _failure(call)
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_OPTIONS)
        assert [field for field, _ in error.field_violations] == [f"options.{name}"]
