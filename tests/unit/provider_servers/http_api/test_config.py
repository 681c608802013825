"""The YAML config: the shipped ones validate, the schema is current, bad ones name their field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from provider_servers.http_api.config import ConfigError, HttpApiConfig, load_config
from provider_servers.http_api.provider import model_spec
from provider_servers.http_api.schema import SCHEMA_PATH, schema_text
from provider_servers.sdk import Capability, MediaUnit

PACKAGE = Path(__file__).parents[4] / "provider_servers" / "http_api"
EXAMPLES = sorted((PACKAGE / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", [PACKAGE / "fake_config.yaml", *EXAMPLES], ids=lambda p: p.name)
def test_the_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    specs = [model_spec(model) for model in config.models]
    assert all(spec.capabilities and spec.description for spec in specs)


def test_the_stability_example_describes_stable_image_core() -> None:
    config = load_config(PACKAGE / "examples" / "stability.yaml")
    assert (config.id, config.auth and config.auth.key_env, config.base_url) == (
        "stability",
        "STABILITY_API_KEY",
        "https://api.stability.ai",
    )
    spec = model_spec(config.models[0])
    assert spec.capabilities == (Capability.TEXT_TO_IMAGE,)
    assert spec.prices == {MediaUnit.OUTPUT_IMAGE: 0.03}
    params = {param.name: param for param in spec.parameters}
    assert params["format"].choices == ("png", "jpeg", "webp")
    assert params["aspect_ratio"].default == "1:1"
    assert config.models[0].request.path == "/v2beta/stable-image/generate/core"


def test_the_json_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "run: python -m provider_servers.http_api.schema"
    )
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"id", "base_url", "health_path", "models"}


def _base() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((PACKAGE / "fake_config.yaml").read_text(encoding="utf-8"))
    return loaded


def _speech(config: dict[str, object]) -> dict[str, object]:
    models = config["models"]
    assert isinstance(models, list)
    model = models[0]
    assert isinstance(model, dict)
    return model


def _set(path: str, value: object) -> dict[str, object]:
    config = _base()
    *parents, last = path.split(".")
    target: object = config
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        assert isinstance(target, dict)
        target[last] = value
    return config


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (_set("colour", "red"), "colour: Extra inputs are not permitted"),
        (_set("id", "Amazing AI"), "id: String should match pattern"),
        (_set("base_url", "ftp://x"), "base_url: String should match pattern"),
        (_set("auth.key_env", "NOT A NAME"), "auth.key_env"),
        (
            _set("models.0.capabilities", ["text-to-smell"]),
            "models.0.capabilities.0: Value error, unknown capability",
        ),
        (_set("models.0.parameters.0", {"standard": "colour"}), "'colour' is not a standard option"),
        (_set("models.0.parameters.0", {"standard": "width"}), "width is standard for"),
        (_set("models.0.parameters.0", {"standard": "voice", "minimum": 1}), "takes choices, not bounds"),
        (_set("models.0.parameters.0", {"name": "speed", "type": "number"}), "is a standard option"),
        (_set("models.0.parameters.0", {"name": "tone", "type": "colour"}), "models.0.parameters.0.type"),
        (_set("models.0.request.json.extra", "${option.tone}"), "unknown placeholder ${option.tone}"),
        (_set("models.0.request.path", "/v1/${id}"), "unknown placeholder ${id}"),
        (_set("models.0.request.path", "/v1/$speech"), "models.0.request.path: Value error, bad placeholder"),
        (_set("models.0.request.multipart", {"a": "b"}), "a json body or a multipart one, not both"),
        (_set("models.0.response.path", "data"), "`path` is required for base64"),
        (
            _set("models.1.response.path", "data[*.b64_json"),
            "models.1.response.path: Value error, not a JMESPath",
        ),
        (_set("models.0.prices", {"output_megapixel": 0.01}), "estimated from the options height, width"),
        (_set("models.0.prices", {"output_audio_second": 0.01}), "estimated from the options duration_s"),
        (_set("models.1.prices", {"per_smile": 1.0}), "models.1.prices.per_smile"),
        (_set("models.3.job.progress_scale", "permille"), "models.3.job.progress_scale"),
        (_set("models.3.job.done", []), "models.3.job.done"),
        (_set("models.1.id", "amazing-speech"), "a model id is declared twice"),
    ],
)
def test_a_bad_config_names_the_field(tmp_path: Path, config: dict[str, object], named: str) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert named in message
    assert "\n" not in message


def test_a_file_that_is_not_yaml_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text("id: [unclosed\n  models: {", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot read it: while parsing") as caught:
        load_config(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "absent.yaml")


def test_standard_options_take_the_vocabularys_type_and_meaning() -> None:
    config = HttpApiConfig.model_validate(_base())
    speed = next(param for param in model_spec(config.models[0]).parameters if param.name == "speed")
    assert (speed.type, speed.minimum, speed.maximum, speed.default) == ("number", 0.5, 2.0, 1.0)
    assert speed.description.startswith("Rate as a multiplier of the normal one")
