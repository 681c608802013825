"""Measures most vendors price by: images, megapixels, characters, seconds of audio."""

from __future__ import annotations

from collections.abc import Mapping

from provider_servers.sdk import Job, MediaKind, MediaUnit, OptionValue, invalid_argument
from provider_servers.sdk.audio import WAV_MIME_TYPES, decode_wav, probe_seconds

__all__ = ["image_units", "input_audio_seconds", "input_characters", "megapixels"]

# A stream whose container does not state its length is estimated from its size at this rate.
_ESTIMATE_BITS_PER_S = 128_000


def megapixels(width: int, height: int) -> float:
    """Millions of pixels in a `width` x `height` image."""
    return width * height / 1_000_000


def input_characters(job: Job) -> float:
    """Characters of the job's text inputs, as vendors bill text-to-speech (`INPUT_CHARACTER`)."""
    return float(sum(len(asset.text()) for asset in job.inputs if asset.kind == MediaKind.TEXT))


def image_units(
    options: Mapping[str, OptionValue], default_width: int, default_height: int, count: int = 1
) -> dict[MediaUnit, float]:
    """`OUTPUT_IMAGE` and `OUTPUT_MEGAPIXEL` for `count` images of the size the options ask for
    (the standard `width` and `height`), or the model's default size."""
    width = options.get("width", default_width)
    height = options.get("height", default_height)
    if not isinstance(width, int | float) or not isinstance(height, int | float):
        width, height = default_width, default_height
    return {
        MediaUnit.OUTPUT_IMAGE: float(count),
        MediaUnit.OUTPUT_MEGAPIXEL: count * megapixels(int(width), int(height)),
    }


def input_audio_seconds(job: Job) -> float:
    """Seconds of audio in the job's first input, as vendors bill transcription
    (`INPUT_AUDIO_SECOND`): a WAV's own length, ffprobe's for other formats, or an estimate from
    the size at 128 kbit/s when the container does not say. Runs ffprobe: tens of milliseconds.

    Raises:
        PrizmError: INVALID_ARGUMENT on `inputs[0].data` when the input holds no readable audio.
    """
    asset = job.inputs[0]
    try:
        if asset.mime_type.split(";")[0].strip().lower() in WAV_MIME_TYPES:
            return decode_wav(asset.read()).duration_s
        seconds = probe_seconds(asset.file(job.workdir, "input"))
    except ValueError as exc:
        raise invalid_argument([("inputs[0].data", f"not readable audio: {exc}")]) from None
    return seconds if seconds is not None else asset.size_bytes * 8 / _ESTIMATE_BITS_PER_S
