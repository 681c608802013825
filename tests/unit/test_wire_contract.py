"""The router relays `Transform` bytes unparsed: its messages must match the provider's field for field."""

from __future__ import annotations

from google.protobuf import struct_pb2, unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb


def _shape(field: FieldDescriptor) -> tuple[object, ...]:
    oneof = field.containing_oneof.name if field.containing_oneof else None
    return (
        field.name,
        field.number,
        field.type,
        field.is_repeated,
        field.message_type.full_name if field.message_type else None,
        field.enum_type.full_name if field.enum_type else None,
        oneof,
    )


def _fields(descriptor: Descriptor) -> dict[int, tuple[object, ...]]:
    return {field.number: _shape(field) for field in descriptor.fields}


def test_router_transform_response_has_exactly_the_fields_of_transform_response() -> None:
    provider = _fields(model_pb.TransformResponse.DESCRIPTOR)
    router = _fields(router_pb.RouterServiceTransformResponse.DESCRIPTOR)
    assert router == provider
    assert sorted(provider) == [1, 2, 3, 4, 5, 6]
    assert provider[3][4] == "prizm.v1.Progress"
    assert provider[6][4] == "prizm.v1.Completion"


def test_router_transform_response_has_the_same_oneofs() -> None:
    def oneofs(descriptor: Descriptor) -> dict[str, list[str]]:
        return {o.name: [f.name for f in o.fields] for o in descriptor.oneofs}

    provider = oneofs(model_pb.TransformResponse.DESCRIPTOR)
    assert provider == {"event": ["progress", "output_header", "output_chunk", "completion"]}
    assert oneofs(router_pb.RouterServiceTransformResponse.DESCRIPTOR) == provider


def test_router_transform_request_shares_fields_one_to_five_with_transform_request() -> None:
    provider = _fields(model_pb.TransformRequest.DESCRIPTOR)
    router = _fields(router_pb.RouterServiceTransformRequest.DESCRIPTOR)
    assert sorted(provider) == [1, 2, 3, 4, 5]
    assert {number: router[number] for number in provider} == provider
    # Everything the router adds lies outside the shared range.
    assert all(number > 5 for number in set(router) - set(provider))
    assert router[16][0] == "routing"


def _provider_stream() -> list[model_pb.TransformResponse]:
    job_id = "job-123"
    return [
        model_pb.TransformResponse(
            job_id=job_id,
            sequence=1,
            progress=job_pb.Progress(
                state=job_pb.JOB_STATE_RUNNING, fraction=0.25, stage="synth", logs=["a"]
            ),
        ),
        model_pb.TransformResponse(
            job_id=job_id,
            sequence=2,
            output_header=media_pb.AssetHeader(
                index=0,
                asset=media_pb.Asset(
                    kind=media_pb.MEDIA_KIND_AUDIO,
                    mime_type="audio/wav",
                    size_bytes=4,
                    sha256="ab" * 32,
                    metadata={"sample_rate": "22050"},
                ),
            ),
        ),
        model_pb.TransformResponse(
            job_id=job_id, sequence=3, output_chunk=media_pb.AssetChunk(index=0, data=b"\x00\x01\xfe\xff")
        ),
        model_pb.TransformResponse(
            job_id=job_id,
            sequence=4,
            completion=job_pb.Completion(
                outputs=[
                    job_pb.OutputSummary(
                        index=0,
                        size_bytes=4,
                        sha256="ab" * 32,
                        provenance=media_pb.Provenance(
                            provider_id="piper",
                            model_id="joe",
                            options=struct_pb2.Struct(fields={"speed": struct_pb2.Value(number_value=1.5)}),
                            input_sha256=["cd" * 32],
                            job_id=job_id,
                        ),
                    )
                ],
                cost=media_pb.Cost(currency="USD", amount=0.002),
            ),
        ),
    ]


def test_provider_bytes_parse_as_the_router_response_field_by_field() -> None:
    for sent in _provider_stream():
        wire = sent.SerializeToString()
        relayed = router_pb.RouterServiceTransformResponse.FromString(wire)
        assert relayed.SerializeToString() == wire
        assert relayed.WhichOneof("event") == sent.WhichOneof("event")
        for field in model_pb.TransformResponse.DESCRIPTOR.fields:
            assert getattr(relayed, field.name) == getattr(sent, field.name), field.name
        # Nothing landed in unknown fields: every byte was understood.
        assert len(unknown_fields.UnknownFieldSet(relayed)) == 0


def test_router_request_bytes_parse_as_the_provider_request_without_the_hints() -> None:
    request = router_pb.RouterServiceTransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_AUDIO,
        model="joe",
        inputs=[media_pb.Asset(kind=media_pb.MEDIA_KIND_TEXT, mime_type="text/plain", data=b"hi")],
        options=struct_pb2.Struct(fields={"speed": struct_pb2.Value(number_value=1.5)}),
        job_id="job-9",
        routing=router_pb.RoutingHints(provider="piper", policy=router_pb.ROUTING_POLICY_CHEAPEST),
    )
    parsed = model_pb.TransformRequest.FromString(request.SerializeToString())
    assert (parsed.capability, parsed.model, parsed.job_id) == (request.capability, "joe", "job-9")
    assert list(parsed.inputs) == list(request.inputs)
    assert parsed.options == request.options
    # The hints are the only thing a provider does not understand.
    unknown = unknown_fields.UnknownFieldSet(parsed)
    assert len(unknown) == 1
    assert unknown[0].field_number == 16
