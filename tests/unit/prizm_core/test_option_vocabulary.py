"""The standard options: the registry itself, every in-tree model against it, and docs/options.md."""

from __future__ import annotations

import importlib.util
import re
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest

from prizm_core.capabilities import capability_by_name, capability_info
from prizm_core.enums import Capability
from prizm_core.option_vocabulary import STANDARD_OPTIONS, standard_option, standard_options_for
from provider_servers.espeak.provider import espeak_model
from provider_servers.espeak.voices import parse_voices
from provider_servers.sdk import ModelSpec, Param, standard_param

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    """scripts/gen_options_doc.py, which renders docs/options.md and lists the in-tree models."""
    spec = importlib.util.spec_from_file_location("gen_options_doc", ROOT / "scripts" / "gen_options_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
MODELS: list[tuple[str, ModelSpec]] = GENERATOR.in_tree_models()


def _misuses(model: ModelSpec) -> list[str]:
    """Each parameter of `model` that has a standard name but not the standard type, meaning or
    capability: a provider giving a standard name another meaning."""
    found = []
    for param in model.parameters:
        standard = next((option for option in STANDARD_OPTIONS if option.name == param.name), None)
        if standard is None:
            continue
        if param.type != standard.type:
            found.append(f"{param.name}: type {param.type}, the standard type is {standard.type}")
        if not param.description.startswith(standard.meaning):
            found.append(f"{param.name}: {param.description!r} does not start with the standard meaning")
        for capability in model.capabilities:
            if not standard.applies_to(capability):
                found.append(f"{param.name}: not standard for {capability_info(capability).name}")
    return found


# Providers whose models come only from a configuration file given at run time: none without it.
# `cog`'s model is the Cog server's, read from it at warm-up: none without a server.
# `container` serves the service its manifest describes, and cannot be built without one.
_CONFIGURED_AT_RUN_TIME = {"http_api", "cog", "container"}


def test_the_in_tree_providers_are_all_found() -> None:
    in_tree = {
        entry.name
        for entry in entry_points(group="prizm.providers")
        if entry.value.startswith("provider_servers.")
    }
    providers = {provider for provider, _ in MODELS}
    assert {"espeak", "ffmpeg", "imaging", "ocr", "piper", "pocketsphinx", "synthetic", "openai"} <= providers
    assert providers == in_tree - _CONFIGURED_AT_RUN_TIME
    assert all(sum(1 for owner, _ in MODELS if owner == provider) >= 1 for provider in providers)


@pytest.mark.parametrize(("provider", "model"), MODELS, ids=[f"{p}/{m.id}" for p, m in MODELS])
def test_every_standard_name_an_in_tree_model_takes_has_the_standard_type_and_meaning(
    provider: str, model: ModelSpec
) -> None:
    assert _misuses(model) == [], provider


def test_espeak_after_warm_up_takes_bcp47_languages_and_its_variants_as_voices() -> None:
    listing = [
        " 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)",
        " 5  en-gb-x-rp      --/M      English_(Received_Pronunciation) gmw/en-GB-x-rp (en-gb 4)(en 5)",
        " 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 6)",
    ]
    model = espeak_model(parse_voices(listing), ("klatt", "female2"))
    assert _misuses(model) == []
    params = {param.name: param for param in model.parameters}
    assert params["language"].choices == ("en", "en-GB", "en-GB-x-rp", "en-US", "pt", "pt-BR")
    assert params["language"].default == "en-US"
    assert (params["voice"].choices, params["voice"].default) == (("female2", "klatt"), None)


@pytest.mark.parametrize(
    ("param", "problem"),
    [
        (
            Param("speed", "integer", standard_option("speed").meaning, default=175),
            "type integer, the standard type is number",
        ),
        (Param("speed", "number", "Words per minute, in hundreds."), "does not start with the standard"),
        (Param("width", "integer", standard_option("width").meaning), "not standard for text-to-audio"),
    ],
)
def test_a_standard_name_with_another_meaning_is_caught(param: Param, problem: str) -> None:
    model = ModelSpec("m", "M", "A model.", (Capability.TEXT_TO_AUDIO,), parameters=(param,))
    (found,) = _misuses(model)
    assert problem in found


def test_the_registry_is_well_formed() -> None:
    names = [option.name for option in STANDARD_OPTIONS]
    assert len(names) == len(set(names))
    for option in STANDARD_OPTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", option.name)
        assert option.type in {"string", "integer", "number", "boolean"}
        assert option.meaning.endswith(".") and option.unit and option.capabilities
        assert all(capability_by_name(name).name == name for name in option.capabilities)


def test_the_standard_options_of_a_capability() -> None:
    text_to_audio = {option.name for option in standard_options_for(Capability.TEXT_TO_AUDIO)}
    assert {"voice", "language", "speed", "format"} <= text_to_audio
    assert "width" not in text_to_audio
    assert [option.name for option in standard_options_for(Capability.AUDIO_TO_TEXT)] == ["language"]
    assert {"width", "height", "seed", "negative_prompt", "num_outputs", "format"} <= {
        option.name for option in standard_options_for(Capability.TEXT_TO_IMAGE)
    }
    assert {"duration_s", "fps", "width", "height", "format"} <= {
        option.name for option in standard_options_for(Capability.TEXT_TO_VIDEO)
    }
    assert standard_options_for(Capability.TEXT_TO_TEXT) == ()


def test_speed_means_a_multiplier_on_every_text_to_audio_provider() -> None:
    speeds = [
        (f"{provider}/{model.id}", provider, param)
        for provider, model in MODELS
        for param in model.parameters
        if param.name == "speed"
    ]
    assert {"espeak", "piper"} <= {provider for _, provider, _ in speeds}
    for name, provider, param in speeds:
        assert param.type == "number" and param.default == 1.0, name
        assert param.minimum is not None and param.maximum is not None, name
        assert param.minimum < 1.0 < param.maximum, name
        # A vendor's API sets its own range (ElevenLabs takes 0.7 to 1.2); the local voices take 0.5 to 2.
        if provider in ("espeak", "piper"):
            assert param.minimum <= 0.5 and param.maximum >= 2.0, name


def test_an_unknown_standard_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="standard: format, voice"):
        standard_param("pace")


def test_docs_options_md_is_generated_from_the_registry_and_the_models() -> None:
    text = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    assert text == GENERATOR.render(), "docs/options.md is stale: run scripts/gen_options_doc.py"
    for option in STANDARD_OPTIONS:
        assert f"| `{option.name}` | {option.type} |" in text
        assert f"### `{option.name}`" in text
    assert "| `espeak` | `espeak-ng` | 0.5 to 2.5 | `1` | espeak-ng: 1 is 175 words per minute. |" in text
