"""How each declared Replicate model turns options into its input, and models declared in config."""

from __future__ import annotations

import grpc
import pytest

from prizm_core.enums import Capability, MediaUnit
from prizm_core.errors import PrizmError
from provider_servers.replicate.catalog import ModelsConfigError, parse_models
from provider_servers.replicate.models import (
    FLUX_PRO,
    FLUX_SCHNELL,
    REAL_ESRGAN,
    SPEECH_TURBO,
    ReplicateModel,
    unlisted,
)
from provider_servers.sdk.options import resolve_options


@pytest.mark.parametrize(
    ("model", "given", "sent"),
    [
        (
            FLUX_SCHNELL,
            {"format": "jpeg", "num_outputs": 3, "seed": 9},
            {"output_format": "jpg", "num_outputs": 3, "seed": 9, "aspect_ratio": "1:1", "megapixels": "1"},
        ),
        (FLUX_PRO, {"width": 1024, "height": 576}, {"aspect_ratio": "custom", "width": 1024, "height": 576}),
        (FLUX_PRO, {"aspect_ratio": "4:3"}, {"aspect_ratio": "4:3", "output_format": "png"}),
        (
            SPEECH_TURBO,
            {"voice": "Deep_Voice_Man", "speed": 1.5, "format": "wav"},
            {"voice_id": "Deep_Voice_Man", "speed": 1.5, "audio_format": "wav", "emotion": "auto"},
        ),
        (REAL_ESRGAN, {"scale": 2.0}, {"scale": 2.0, "face_enhance": False}),
    ],
)
def test_options_become_the_model_s_input(
    model: ReplicateModel, given: dict[str, object], sent: dict[str, object]
) -> None:
    options = resolve_options(model.spec.parameters, given)
    body = model.vendor_input("the input", options)
    assert body[model.input_field] == "the input"
    assert sent.items() <= body.items()
    assert not {"format", "voice"} & body.keys()  # standard names go in under the model's own


@pytest.mark.parametrize(
    ("given", "violation"),
    [
        ({"width": 1000, "height": 576}, ("options.width", "must be a multiple of 32")),
        ({"width": 1024}, ("options.height", "give width and height together")),
        ({"height": 320}, ("options.width", "give width and height together")),
    ],
)
def test_sizes_flux_pro_refuses(given: dict[str, object], violation: tuple[str, str]) -> None:
    options = resolve_options(FLUX_PRO.spec.parameters, given)
    with pytest.raises(PrizmError) as failure:
        FLUX_PRO.vendor_input("a harbour", options)
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in failure.value.field_violations


def test_the_output_type_follows_the_format() -> None:
    assert FLUX_SCHNELL.output_mime_type({"format": "webp"}) == "image/webp"
    assert FLUX_SCHNELL.output_mime_type({"format": "jpeg"}) == "image/jpeg"
    assert SPEECH_TURBO.output_mime_type({"format": "flac"}) == "audio/flac"
    assert REAL_ESRGAN.output_mime_type({}) == "image/png"


def test_a_model_declared_in_config() -> None:
    [model] = parse_models(
        [
            {
                "id": "acme-flux",
                "ref": "deployments/acme/flux",
                "capability": "text-to-image",
                "prices": {"output_image": 0.002},
                "parameters": [{"name": "format", "choices": ["png"], "default": "png"}],
                "renames": {"format": "output_format"},
                "output_mime_type": "image/png",
            }
        ]
    )
    assert model.reference == "deployments/acme/flux"
    assert model.spec.capabilities == (Capability.TEXT_TO_IMAGE,)
    assert model.spec.prices == {MediaUnit.OUTPUT_IMAGE: 0.002}
    assert model.vendor_input("a fox", {"format": "png"}) == {"prompt": "a fox", "output_format": "png"}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ([{"id": "x/y", "capability": "text-to-smell"}], "0.capability"),
        ([{"id": "x/y", "capability": "text-to-image", "prices": {"per_banana": 1}}], "per_banana"),
        ([{"id": "x/y", "capability": "text-to-image", "colour": "red"}], "0.colour"),
        ([{"id": "plain", "capability": "text-to-image"}], "not a Replicate model"),
        ([{"id": "x/y", "capability": "text-to-image", "parameters": [{"name": "steps"}]}], "give its type"),
        ({"id": "x/y"}, "list"),
    ],
)
def test_bad_configs_name_the_problem(config: object, problem: str) -> None:
    with pytest.raises(ModelsConfigError, match=problem):
        parse_models(config)


@pytest.mark.parametrize(
    ("capability", "field"),
    [
        (Capability.TEXT_TO_IMAGE, "prompt"),
        (Capability.IMAGE_TO_IMAGE, "image"),
        (Capability.AUDIO_TO_TEXT, "audio"),
        (Capability.VIDEO_TO_AUDIO, "video"),
    ],
)
def test_a_model_named_by_reference_passes_its_options_through_unchecked(
    capability: Capability, field: str
) -> None:
    given = {"steps": 50, "style": "noir", "go_fast": True, "guidance": 3.5}
    model = unlisted("acme/whatever:abc123", capability, given)
    options = resolve_options(model.spec.parameters, given)
    assert model.reference == "acme/whatever:abc123"
    assert model.vendor_input("hello", options) == {**given, field: "hello"}
    assert [(p.name, p.type) for p in model.spec.parameters] == [
        ("steps", "integer"),
        ("style", "string"),
        ("go_fast", "boolean"),
        ("guidance", "number"),
    ]
    assert model.output_mime_type(options) == ""  # each output's type comes from its URL
    assert not model.declared and model.spec.prices == {}
    assert "not declared" in model.spec.description and "unchecked" in model.spec.description


def test_a_model_named_by_reference_still_refuses_a_list() -> None:
    model = unlisted("acme/whatever", Capability.TEXT_TO_IMAGE, {"frames": [1, 2], "seed": 3})
    assert [p.name for p in model.spec.parameters] == ["seed"]
    with pytest.raises(PrizmError) as failure:
        resolve_options(model.spec.parameters, {"frames": [1, 2], "seed": 3})
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_model_named_by_reference_takes_no_3d_and_says_its_outputs_vary() -> None:
    spec = unlisted("acme/whatever", Capability.TEXT_TO_IMAGE, {}).spec
    assert Capability.TEXT_TO_IMAGE in spec.capabilities
    assert Capability.TEXT_TO_3D not in spec.capabilities
    assert spec.output_mime_type == ""
