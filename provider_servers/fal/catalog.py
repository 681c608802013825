"""fal models: a few well-known ones built in, more declared in a YAML or JSON list, checked by pydantic."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from pydantic import Field

from prizm_core.enums import Capability, MediaUnit
from provider_servers.fal.mapping import FalModel
from provider_servers.remote.model_config import (
    DeclaredModel,
    ModelsConfigError,
    inferred_params,
    load_declared,
    parse_declared,
)
from provider_servers.sdk import ModelSpec, Param, standard_param

__all__ = [
    "BUILT_IN",
    "ENDPOINT_ID",
    "FalModelConfig",
    "ModelsConfigError",
    "load_models",
    "parse_models",
    "passthrough",
]

EMPTY: Mapping[str, object] = MappingProxyType({})
# A fal endpoint id: owner/app, and a path under it (`fal-ai/flux/schnell`).
ENDPOINT_ID = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
_WHAT = "fal models config"


class FalModelConfig(DeclaredModel):
    """One fal model endpoint as a config declares it (see the README's fal section)."""

    id: str = Field(pattern=ENDPOINT_ID, description="fal endpoint id")
    prompt_field: str = "prompt"
    input_field: str = ""
    size_field: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    output_field: str = ""
    compute_s: float = Field(default=0.0, ge=0.0)

    def model(self) -> FalModel:
        """The model this declares.

        Raises:
            ValueError: a parameter that cannot be declared.
        """
        return FalModel(
            self.spec(f"fal endpoint {self.id}, declared in config."),
            self.prompt_field,
            self.input_field,
            self.size_field,
            dict(self.fields),
            self.output_field,
            self.compute_s,
        )


def parse_models(data: object) -> list[FalModel]:
    """Models from a parsed config (a list of model mappings).

    Raises:
        ModelsConfigError: with the field path and problem of each invalid entry.
    """
    return parse_declared(FalModelConfig, FalModelConfig.model, data, _WHAT)


def load_models(path: Path) -> list[FalModel]:
    """Models from a YAML or JSON file (JSON is YAML).

    Raises:
        ModelsConfigError: the file cannot be read or parsed, or an entry is invalid.
    """
    return load_declared(FalModelConfig, FalModelConfig.model, path, _WHAT)


def passthrough(model_id: str, capability: Capability, options: Mapping[str, object] = EMPTY) -> FalModel:
    """Any fal endpoint by its id, undeclared: the job's own options go through as given, unchecked.

    Its parameters are those `options` name, each of the type of its value, so that the SDK's
    check lets exactly them through (and still refuses a list or a null).
    """
    spec = ModelSpec(
        id=model_id,
        display_name=model_id,
        description=(
            f"fal endpoint {model_id}, not declared: its options are passed to fal as given, "
            "unchecked and unmapped, and its price is unknown here."
        ),
        capabilities=(capability,),
        parameters=inferred_params(options, "passed to fal as given"),
    )
    return FalModel(spec, declared=False)


def _flux_schnell() -> FalModel:
    size = "fal's image_size {width, height}; a multiple of 8 is best."
    spec = ModelSpec(
        id="fal-ai/flux/schnell",
        display_name="FLUX.1 [schnell] on fal",
        description="Black Forest Labs' FLUX.1 [schnell], 1 to 4 steps, text to image, run by fal.",
        capabilities=(Capability.TEXT_TO_IMAGE,),
        parameters=(
            standard_param("width", note=size, default=1024, minimum=256, maximum=2048),
            standard_param("height", note=size, default=768, minimum=256, maximum=2048),
            standard_param("seed", note="fal's seed.", minimum=0, maximum=2**32 - 1),
            standard_param("num_outputs", note="fal's num_images.", default=1, minimum=1, maximum=4),
            standard_param("format", note="fal's output_format.", default="jpeg", choices=("jpeg", "png")),
            Param("num_inference_steps", "integer", "Denoising steps.", default=4, minimum=1, maximum=12),
            Param("enable_safety_checker", "boolean", "fal's NSFW filter on the output.", default=True),
        ),
        prices={MediaUnit.OUTPUT_MEGAPIXEL: 0.003},
        output_mime_type="image/jpeg",
    )
    return FalModel(spec, size_field="image_size", output_field="images")


# Whisper's languages as fal takes them: ISO 639-1 codes, which are BCP 47 tags as they stand.
_WHISPER_LANGUAGES = (
    "ar",
    "de",
    "en",
    "es",
    "fr",
    "hi",
    "it",
    "ja",
    "ko",
    "nl",
    "pl",
    "pt",
    "ru",
    "tr",
    "uk",
    "zh",
)


def _whisper() -> FalModel:
    spec = ModelSpec(
        id="fal-ai/whisper",
        display_name="Whisper on fal",
        description="OpenAI's Whisper speech recognition, run by fal; billed by fal per compute second.",
        capabilities=(Capability.AUDIO_TO_TEXT,),
        parameters=(
            Param(
                "task",
                "string",
                "transcribe, or translate into English.",
                default="transcribe",
                choices=("transcribe", "translate"),
            ),
            standard_param(
                "language",
                note="fal's language: bare language tags only; leave out to detect it.",
                choices=_WHISPER_LANGUAGES,
            ),
        ),
        prices={MediaUnit.COMPUTE_SECOND: 0.00111},
        output_mime_type="text/plain; charset=utf-8",
    )
    return FalModel(spec, input_field="audio_url", output_field="text", compute_s=5.0)


# Kokoro's American English voices as fal lists them: af_* female, am_* male.
_FEMALE = ("heart", "alloy", "aoede", "bella", "jessica", "kore", "nicole", "nova", "river", "sarah", "sky")
_MALE = ("adam", "echo", "eric", "fenrir", "liam", "michael", "onyx", "puck", "santa")
_KOKORO_VOICES = tuple(f"af_{name}" for name in _FEMALE) + tuple(f"am_{name}" for name in _MALE)


def _kokoro() -> FalModel:
    spec = ModelSpec(
        id="fal-ai/kokoro/american-english",
        display_name="Kokoro (American English) on fal",
        description="Kokoro-82M text-to-speech in American English, 24 kHz WAV, run by fal.",
        capabilities=(Capability.TEXT_TO_AUDIO,),
        parameters=(
            standard_param(
                "voice",
                note="fal's voice: af_* female, am_* male.",
                default="af_heart",
                choices=_KOKORO_VOICES,
            ),
            standard_param("speed", note="fal's speed.", default=1.0, minimum=0.1, maximum=5.0),
        ),
        prices={MediaUnit.INPUT_CHARACTER: 0.00002},
        input_mime_types=("text/plain",),
        output_mime_type="audio/wav",
    )
    return FalModel(spec, output_field="audio")


# Prices are fal's published ones when written (fal.ai/pricing); a config entry of the same id
# replaces the built-in one, prices included.
BUILT_IN: tuple[FalModel, ...] = (_flux_schnell(), _kokoro(), _whisper())
