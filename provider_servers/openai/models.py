"""The OpenAI models Prizm serves: capabilities, options (standard and OpenAI's own) and prices."""

from __future__ import annotations

from provider_servers.sdk import Capability, MediaUnit, ModelSpec, Param, standard_param

__all__ = [
    "AUDIO_EXTENSIONS",
    "CHAT_MODELS",
    "IMAGE_MODELS",
    "IMAGE_SIZES",
    "MODELS",
    "PROMPT_LIMITS",
    "SPEECH_FORMATS",
    "SPEECH_MODELS",
    "TRANSCRIPTION_MODELS",
    "VOICES",
]

# The sizes each image model accepts (OpenAI's `size`, "WIDTHxHEIGHT").
IMAGE_SIZES: dict[str, tuple[str, ...]] = {
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
}
# Longest prompt each image model takes, in characters (the API reference's limits).
PROMPT_LIMITS = {"gpt-image-1": 32_000, "dall-e-3": 4_000, "dall-e-2": 1_000}
# The voices `tts-1` and `tts-1-hd` speak with (ballad, verse, marin and cedar are gpt-4o-mini-tts only).
VOICES = ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")
# `response_format` of /audio/speech -> the output's MIME type. Opus comes in an Ogg container; pcm is
# raw 16-bit little-endian mono at 24 kHz with no header.
SPEECH_FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# A prompt for text-to-image, a picture for image-to-image (the base class checks which kind fits).
_IMAGE_INPUTS = ("text/plain", "image/png", "image/jpeg", "image/webp")
# The audio MIME types /audio/transcriptions takes, with the file extension it recognises them by
# (it goes by the file name: a file without a known extension is refused).
AUDIO_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}


def _size_params(model: str) -> tuple[Param, Param]:
    sizes = IMAGE_SIZES[model]
    widths = [int(size.split("x")[0]) for size in sizes]
    heights = [int(size.split("x")[1]) for size in sizes]
    note = f"OpenAI: width x height must be one of {', '.join(sizes)} (its `size`)."
    return (
        standard_param("width", note=note, default=1024, minimum=min(widths), maximum=max(widths)),
        standard_param("height", note=note, default=1024, minimum=min(heights), maximum=max(heights)),
    )


def _prompt_param(model: str) -> Param:
    return Param(
        "prompt",
        "string",
        "What to change in the image (image-to-image only, where it is required).",
        max_length=PROMPT_LIMITS[model],
    )


def _response_format() -> Param:
    return Param(
        "response_format",
        "string",
        "How OpenAI hands the image over: a URL (downloaded here) or base64 in the response.",
        default="url",
        choices=("url", "b64_json"),
    )


GPT_IMAGE = ModelSpec(
    id="gpt-image-1",
    display_name="OpenAI GPT Image 1",
    description=(
        "OpenAI's GPT image model: images from a prompt (/images/generations) or edits of an image "
        "(/images/edits). Billed per token: text in, image tokens out (272 to 6,240 per image by "
        "size and quality)."
    ),
    capabilities=(Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE),
    parameters=(
        *_size_params("gpt-image-1"),
        standard_param(
            "format", note="OpenAI: its output_format.", default="png", choices=("png", "jpeg", "webp")
        ),
        Param("quality", "string", "Rendering quality.", default="medium", choices=("low", "medium", "high")),
        Param(
            "background",
            "string",
            "Background: transparent needs png or webp.",
            default="auto",
            choices=("auto", "opaque", "transparent"),
        ),
        _prompt_param("gpt-image-1"),
    ),
    prices={MediaUnit.INPUT_TOKEN: 5e-6, MediaUnit.OUTPUT_TOKEN: 40e-6},
    input_mime_types=_IMAGE_INPUTS,
    output_mime_type="image/png",
)
DALL_E_3 = ModelSpec(
    id="dall-e-3",
    display_name="OpenAI DALL-E 3",
    description=(
        "OpenAI DALL-E 3: PNG images from a prompt. Priced per image in standard 1024x1024 images: "
        "a 1792x1024 or HD image counts as 2, an HD 1792x1024 one as 3 ($0.04, $0.08, $0.12)."
    ),
    capabilities=(Capability.TEXT_TO_IMAGE,),
    parameters=(
        *_size_params("dall-e-3"),
        standard_param("format", note="DALL-E writes PNG only.", default="png", choices=("png",)),
        Param("quality", "string", "Rendering quality.", default="standard", choices=("standard", "hd")),
        Param(
            "style", "string", "Vivid (dramatic) or natural.", default="vivid", choices=("vivid", "natural")
        ),
        _response_format(),
    ),
    prices={MediaUnit.OUTPUT_IMAGE: 0.04},
    input_mime_types=("text/plain",),
    output_mime_type="image/png",
)
DALL_E_2 = ModelSpec(
    id="dall-e-2",
    display_name="OpenAI DALL-E 2",
    description=(
        "OpenAI DALL-E 2: square PNG images from a prompt, or edits of a square PNG under 4 MB. Priced "
        "per image in 1024x1024 images ($0.02): 512x512 counts as 0.9, 256x256 as 0.8."
    ),
    capabilities=(Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE),
    parameters=(
        *_size_params("dall-e-2"),
        standard_param("format", note="DALL-E writes PNG only.", default="png", choices=("png",)),
        _response_format(),
        _prompt_param("dall-e-2"),
    ),
    prices={MediaUnit.OUTPUT_IMAGE: 0.02},
    input_mime_types=("text/plain", "image/png"),
    output_mime_type="image/png",
)


def _speech(model: str, name: str, per_million: float) -> ModelSpec:
    return ModelSpec(
        id=model,
        display_name=f"OpenAI {name}",
        description=(
            f"OpenAI text-to-speech ({model}, /audio/speech), up to 4,096 characters; the audio is "
            f"relayed as it arrives. ${per_million:g} per million characters."
        ),
        capabilities=(Capability.TEXT_TO_AUDIO,),
        parameters=(
            standard_param("voice", note="OpenAI's built-in voices.", default="alloy", choices=VOICES),
            standard_param("speed", note="OpenAI: its speed.", default=1.0, minimum=0.25, maximum=4.0),
            standard_param(
                "format",
                note="OpenAI: its response_format; opus in Ogg, pcm raw 24 kHz 16-bit mono.",
                default="mp3",
                choices=tuple(SPEECH_FORMATS),
            ),
        ),
        prices={MediaUnit.INPUT_CHARACTER: per_million / 1e6},
        input_mime_types=("text/plain",),
        output_mime_type="audio/mpeg",
    )


def _chat(model: str, name: str, input_per_million: float, output_per_million: float) -> ModelSpec:
    return ModelSpec(
        id=model,
        display_name=f"OpenAI {name}",
        description=(
            f"OpenAI chat completions ({model}): the input is the user message. Streamed as progress "
            f"when `stream` is on; billed per token (${input_per_million:g} / ${output_per_million:g} "
            "per million in / out)."
        ),
        capabilities=(Capability.TEXT_TO_TEXT,),
        parameters=(
            Param("stream", "boolean", "Stream the answer as progress messages.", default=True),
            Param("system", "string", "System message sent before the input.", max_length=32_000),
            Param("temperature", "number", "Sampling temperature.", default=1.0, minimum=0.0, maximum=2.0),
            Param(
                "max_completion_tokens",
                "integer",
                "Most tokens in the answer; the estimate assumes all are used.",
                default=1024,
                minimum=1,
                maximum=16_384,
            ),
        ),
        prices={
            MediaUnit.INPUT_TOKEN: input_per_million / 1e6,
            MediaUnit.OUTPUT_TOKEN: output_per_million / 1e6,
        },
        input_mime_types=("text/plain",),
        output_mime_type="text/plain",
    )


WHISPER = ModelSpec(
    id="whisper-1",
    display_name="OpenAI Whisper",
    description=(
        "OpenAI Whisper speech recognition (/audio/transcriptions): mp3, mp4, m4a, wav, webm, ogg or "
        "flac up to 25 MB. $0.006 per minute of input audio."
    ),
    capabilities=(Capability.AUDIO_TO_TEXT,),
    parameters=(
        standard_param("language", note="OpenAI: sent as its ISO-639-1 code; leave out to detect."),
        Param(
            "prompt", "string", "Text to guide the style or continue a previous segment.", max_length=4_000
        ),
        Param("temperature", "number", "Sampling temperature.", default=0.0, minimum=0.0, maximum=1.0),
    ),
    prices={MediaUnit.INPUT_AUDIO_SECOND: 0.0001},
    input_mime_types=tuple(AUDIO_EXTENSIONS),
    output_mime_type="text/plain",
)

IMAGE_MODELS = (GPT_IMAGE, DALL_E_3, DALL_E_2)
SPEECH_MODELS = (_speech("tts-1", "TTS", 15.0), _speech("tts-1-hd", "TTS HD", 30.0))
TRANSCRIPTION_MODELS = (WHISPER,)
CHAT_MODELS = (_chat("gpt-4o-mini", "GPT-4o mini", 0.15, 0.6), _chat("gpt-4o", "GPT-4o", 2.5, 10.0))
MODELS = (*CHAT_MODELS, *IMAGE_MODELS, *SPEECH_MODELS, *TRANSCRIPTION_MODELS)
