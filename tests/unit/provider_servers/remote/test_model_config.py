"""The models-config schema fal and Replicate share: mistakes name their field, never crash."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from pydantic import Field

from prizm_core.enums import Capability, MediaUnit
from prizm_core.errors import PrizmError
from provider_servers.remote.model_config import (
    DeclaredModel,
    ModelsConfigError,
    inferred_params,
    load_declared,
    parse_declared,
    parse_setting,
)
from provider_servers.sdk import ModelSpec


class _Config(DeclaredModel):
    """A vendor's declared model, as small as one can be."""

    id: str = Field(pattern=r"^[a-z/]+$")

    def model(self) -> ModelSpec:
        return self.spec(f"{self.id}, declared in config.")


def _parse(data: object) -> list[ModelSpec]:
    return parse_declared(_Config, _Config.model, data, "test models")


def test_a_declared_model_becomes_a_spec() -> None:
    (spec,) = _parse(
        [
            {
                "id": "acme/tts",
                "capability": "TEXT_TO_AUDIO",
                "prices": {"input_character": 0.00003},
                "parameters": [
                    {"name": "voice", "choices": ["a", "b"]},
                    {"name": "pitch", "type": "integer"},
                ],
                "output_mime_type": "audio/wav",
            }
        ]
    )
    assert (spec.id, spec.capabilities, spec.prices) == (
        "acme/tts",
        (Capability.TEXT_TO_AUDIO,),
        {MediaUnit.INPUT_CHARACTER: 0.00003},
    )
    assert spec.description == "acme/tts, declared in config."
    assert [(p.name, p.type, p.choices) for p in spec.parameters] == [
        ("voice", "string", ("a", "b")),
        ("pitch", "integer", ()),
    ]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        # `capability_by_name` raises KeyError: it must come out as this field's validation error.
        ({"id": "a/b", "capability": "text-to-smell"}, r"test models: 0\.capability: .*unknown capability"),
        ({"id": "a/b", "capability": "text-to-image", "prices": {"per_frame": 1}}, r"0\.prices: .*per_frame"),
        (
            {"id": "a/b", "capability": "text-to-image", "prices": {"output_image": -1}},
            "must not be negative",
        ),
        ({"id": "A B", "capability": "text-to-image"}, r"0\.id"),
        ({"id": "a/b", "capability": "text-to-image", "colour": "red"}, r"0\.colour"),
        ({"id": "a/b", "capability": "text-to-image", "parameters": [{"name": "steps"}]}, "give its type"),
    ],
)
def test_mistakes_name_their_field(entry: dict[str, object], words: str) -> None:
    with pytest.raises(ModelsConfigError, match=words):
        _parse([entry])


def test_a_file_and_a_setting(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("- id: a/b\n  capability: text-to-image\n  prices: {output_image: 0.04}\n")
    (spec,) = load_declared(_Config, _Config.model, path, "test models")
    assert spec.prices == {MediaUnit.OUTPUT_IMAGE: 0.04}
    with pytest.raises(ModelsConfigError, match=r"test models .*missing\.yaml"):
        load_declared(_Config, _Config.model, tmp_path / "missing.yaml", "test models")
    assert [s.id for s in parse_setting('[{"id": "c/d", "capability": "text-to-text"}]', _parse)] == ["c/d"]


@pytest.mark.parametrize("text", ["[{id: a/b, capability: text-to-smell}]", "[unclosed", "[{id: a/b}]"])
def test_a_bad_setting_is_invalid_argument_naming_it(text: str) -> None:
    with pytest.raises(PrizmError) as failure:
        parse_setting(text, _parse)
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for name, _ in failure.value.field_violations] == ["settings.models"]


def test_inferred_params_take_each_value_s_type() -> None:
    options = {"steps": 4.0, "cfg": 3.5, "fast": True, "style": "noir", "frames": [1], "none": None}
    params = inferred_params(options, "as given")
    assert [(p.name, p.type, p.description) for p in params] == [
        ("steps", "integer", "as given"),  # a request's whole numbers arrive as doubles
        ("cfg", "number", "as given"),
        ("fast", "boolean", "as given"),
        ("style", "string", "as given"),
    ]
