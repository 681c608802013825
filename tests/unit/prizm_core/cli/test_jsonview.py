"""`--json` writes enum values by the CLI's names and keeps zero values."""

from __future__ import annotations

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.cli.jsonview import enum_label, message_json


def test_enum_values_read_as_the_cli_writes_them() -> None:
    assert enum_label(media_pb.Capability.DESCRIPTOR, media_pb.CAPABILITY_TEXT_TO_AUDIO) == "text-to-audio"
    assert enum_label(media_pb.MediaKind.DESCRIPTOR, media_pb.MEDIA_KIND_MODEL_3D) == "3d"
    state = router_pb.EndpointState.DESCRIPTOR
    assert enum_label(state, router_pb.ENDPOINT_STATE_NOT_SERVING) == "not-serving"
    assert enum_label(catalog_pb.MediaUnit.DESCRIPTOR, catalog_pb.MEDIA_UNIT_REQUEST) == "request"
    assert enum_label(router_pb.EndpointState.DESCRIPTOR, 999) == "999"


def test_nested_and_repeated_enums_are_relabelled_and_zero_values_kept() -> None:
    endpoint = router_pb.ProviderEndpoint(
        address="127.0.0.1:1",
        state=router_pb.ENDPOINT_STATE_SERVING,
        source=router_pb.DISCOVERY_SOURCE_SIDECAR,
        provider=catalog_pb.ProviderInfo(
            id="piper", capabilities=[media_pb.CAPABILITY_TEXT_TO_AUDIO, media_pb.CAPABILITY_AUDIO_TO_TEXT]
        ),
    )
    data = message_json(endpoint)
    assert (data["state"], data["source"]) == ("serving", "sidecar")
    assert data["provider"]["capabilities"] == ["text-to-audio", "audio-to-text"]
    assert data["inFlight"] == 0 and data["detail"] == ""


def test_a_models_parameters_keep_their_types_and_zero_defaults() -> None:
    model = catalog_pb.Model(
        id="m",
        capabilities=[media_pb.CAPABILITY_TEXT_TO_IMAGE],
        parameters=[catalog_pb.Parameter(name="seed", type=catalog_pb.PARAMETER_TYPE_INTEGER, minimum=0)],
        pricing=catalog_pb.Pricing(
            currency="USD", prices=[catalog_pb.Price(unit=catalog_pb.MEDIA_UNIT_REQUEST, amount_per_unit=0)]
        ),
    )
    model.parameters[0].default_value.number_value = 0
    data = message_json(model)
    [seed] = data["parameters"]
    assert (seed["type"], seed["defaultValue"], seed["minimum"], seed["choices"]) == ("integer", 0, 0, [])
    assert data["pricing"]["prices"] == [{"unit": "request", "amountPerUnit": 0.0}]
