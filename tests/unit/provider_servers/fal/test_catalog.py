"""fal's models config: declared models become the same specs as built-in ones; mistakes name their field."""

from __future__ import annotations

from pathlib import Path

import pytest

from prizm_core.enums import Capability, MediaUnit
from provider_servers.fal.catalog import BUILT_IN, ModelsConfigError, load_models, parse_models, passthrough

VIDEO = {
    "id": "fal-ai/example/text-to-video",
    "capability": "text-to-video",
    "prices": {"output_video_second": 0.28},
    "fields": {"duration_s": "duration"},
    "output_field": "video",
    "parameters": [
        {"name": "duration_s", "minimum": 5, "maximum": 10, "default": 5, "description": "5 or 10 on fal."},
        {"name": "cfg_scale", "type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
    ],
}


def test_a_declared_model() -> None:
    (model,) = parse_models([VIDEO])
    spec = model.spec
    assert (spec.id, spec.capabilities, spec.prices) == (
        VIDEO["id"],
        (Capability.TEXT_TO_VIDEO,),
        {MediaUnit.OUTPUT_VIDEO_SECOND: 0.28},
    )
    duration, cfg = spec.parameters
    # A standard option takes its type and meaning from the vocabulary, the bounds from the config.
    assert (duration.type, duration.minimum, duration.maximum) == ("number", 5, 10)
    assert duration.description.startswith("Length of the output") and duration.description.endswith(
        "on fal."
    )
    assert (cfg.type, cfg.default) == ("number", 0.5)
    assert (model.fields, model.output_field, model.declared) == ({"duration_s": "duration"}, "video", True)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"capability": "text-to-smell"}, "0.capability"),
        ({"prices": {"per_frame": 0.1}}, "unknown media unit"),
        ({"prices": {"output_image": -1}}, "must not be negative"),
        ({"id": "no-slash"}, "0.id"),
        ({"colour": "red"}, "0.colour"),
        ({"parameters": [{"name": "guidance"}]}, "guidance is not a standard option: give its type"),
        ({"parameters": [{"name": "width", "choices": ["a"]}]}, "takes bounds, not choices"),
    ],
)
def test_mistakes_name_their_field(change: dict[str, object], words: str) -> None:
    with pytest.raises(ModelsConfigError, match=words):
        parse_models([{**VIDEO, **change}])


def test_a_file_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "fal.yaml"
    path.write_text("- id: fal-ai/x/y\n  capability: text-to-image\n  prices: {output_image: 0.04}\n")
    (model,) = load_models(path)
    assert model.spec.prices == {MediaUnit.OUTPUT_IMAGE: 0.04}
    with pytest.raises(ModelsConfigError, match=r"missing\.yaml"):
        load_models(tmp_path / "missing.yaml")


def test_an_undeclared_endpoint_says_its_options_go_unchecked() -> None:
    model = passthrough("fal-ai/new/thing", Capability.TEXT_TO_AUDIO)
    assert not model.declared and model.spec.parameters == () and model.spec.prices == {}
    assert "not declared" in model.spec.description and "unchecked" in model.spec.description


def test_built_in_models_are_unique_and_priced() -> None:
    ids = [model.spec.id for model in BUILT_IN]
    assert len(ids) == len(set(ids)) and "fal-ai/flux/schnell" in ids
    assert all(model.spec.prices for model in BUILT_IN)


def test_the_example_config_loads() -> None:
    path = Path(__file__).parents[4] / "provider_servers" / "fal" / "examples" / "models.yaml"
    models = {model.spec.id: model for model in load_models(path)}
    assert set(models) == {
        "fal-ai/flux/dev",
        "fal-ai/flux/dev/image-to-image",
        "fal-ai/kling-video/v2/master/text-to-video",
    }
    assert models["fal-ai/flux/dev/image-to-image"].spec.parameters[0].required
    assert models["fal-ai/kling-video/v2/master/text-to-video"].spec.prices == {MediaUnit.REQUEST: 1.40}
