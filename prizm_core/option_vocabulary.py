"""The standard options: one name, type and meaning per option on every provider that takes it.

A provider maps each standard option it supports to its own engine or API (espeak-ng's words per
minute from `speed`, a vendor's `output_format` from `format`) and declares it with the SDK's
`standard_param`, so a caller can send the same options to any provider of a capability. Anything
else a model takes is provider-specific and has a name of its own. `docs/options.md` is generated
from this registry and the in-tree models (`scripts/gen_options_doc.py`) and tested against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prizm_core.capabilities import capability_by_name, capability_info

__all__ = ["STANDARD_OPTIONS", "OptionType", "StandardOption", "standard_option", "standard_options_for"]

OptionType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class StandardOption:
    """One option of the standard vocabulary.

    Attributes:
        name: Option name, lower_snake_case.
        type: Value type; every provider declares it with this type.
        unit: What a value counts or names, e.g. "pixels", "multiplier of the normal rate".
        meaning: What the option does, the same on every provider; the start of each
            declaration's description.
        capabilities: The capabilities it applies to, by CLI name ("text-to-audio").
    """

    name: str
    type: OptionType
    unit: str
    meaning: str
    capabilities: tuple[str, ...]

    def applies_to(self, capability: int) -> bool:
        """Whether the option is standard for this capability (a `prizm.v1.Capability` value)."""
        return capability_info(capability).name in self.capabilities


_AUDIO_OUT = ("text-to-audio", "audio-to-audio", "video-to-audio")
_IMAGE_OUT = ("text-to-image", "image-to-image", "video-to-image")
_VIDEO_OUT = ("text-to-video", "image-to-video", "video-to-video")
_GENERATIVE = ("text-to-image", "image-to-image", "text-to-video", "image-to-video", "text-to-audio")
_PICTURES = ("text-to-image", "image-to-image", *_VIDEO_OUT)

STANDARD_OPTIONS: tuple[StandardOption, ...] = (
    StandardOption(
        "format",
        "string",
        "file extension, lower case",
        "Output file format, named by its usual file extension in lower case (wav, mp3, png, jpeg, mp4); "
        "the output's MIME type follows it.",
        (*_AUDIO_OUT, *_IMAGE_OUT, *_VIDEO_OUT),
    ),
    StandardOption(
        "voice",
        "string",
        "provider's voice name",
        "Which of the provider's voices speaks, by the name its choices list.",
        ("text-to-audio",),
    ),
    StandardOption(
        "language",
        "string",
        "BCP 47 tag, canonical case",
        "Language of the speech or text, as a BCP 47 tag in its canonical case (en-US, de, pt-BR).",
        ("text-to-audio", "audio-to-text"),
    ),
    StandardOption(
        "speed",
        "number",
        "multiplier of the normal rate",
        "Rate as a multiplier of the normal one (a voice's speaking rate, a recording's tempo):"
        " 2 is twice as fast, 0.5 half as fast.",
        ("text-to-audio", "audio-to-audio"),
    ),
    StandardOption(
        "sample_rate",
        "integer",
        "hertz",
        "Sample rate of the output audio, in Hz.",
        _AUDIO_OUT,
    ),
    StandardOption(
        "width",
        "integer",
        "pixels",
        "Width of the output picture, in pixels.",
        _PICTURES,
    ),
    StandardOption(
        "height",
        "integer",
        "pixels",
        "Height of the output picture, in pixels.",
        _PICTURES,
    ),
    StandardOption(
        "seed",
        "integer",
        "whole number",
        "Seed of the output's randomness: the same input, options and seed give the same output.",
        _GENERATIVE,
    ),
    StandardOption(
        "negative_prompt",
        "string",
        "text",
        "What the output should not show.",
        ("text-to-image", "image-to-image", "text-to-video", "image-to-video"),
    ),
    StandardOption(
        "num_outputs",
        "integer",
        "count",
        "How many outputs to make from the one input, each an output asset of the job.",
        ("text-to-image", "image-to-image"),
    ),
    StandardOption(
        "duration_s",
        "number",
        "seconds",
        "Length of the output, in seconds.",
        ("text-to-audio", "audio-to-audio", *_VIDEO_OUT),
    ),
    StandardOption(
        "fps",
        "integer",
        "frames per second",
        "Frame rate of the output video, in frames per second.",
        _VIDEO_OUT,
    ),
)


def _indexed(options: tuple[StandardOption, ...]) -> dict[str, StandardOption]:
    """The options by name; a misspelt capability fails here, at import, not in some provider's test."""
    for option in options:
        for capability in option.capabilities:
            capability_by_name(capability)
    return {option.name: option for option in options}


_BY_NAME = _indexed(STANDARD_OPTIONS)


def standard_option(name: str) -> StandardOption:
    """The standard option called `name`.

    Raises:
        KeyError: `name` is not a standard option; the message lists those that are.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a standard option; standard: {', '.join(_BY_NAME)}") from None


def standard_options_for(capability: int) -> tuple[StandardOption, ...]:
    """The standard options of a capability (a `prizm.v1.Capability` value), in registry order."""
    return tuple(option for option in STANDARD_OPTIONS if option.applies_to(capability))
