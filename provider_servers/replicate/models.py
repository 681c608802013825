"""The Replicate models Prizm declares, and how each turns a job's options into the model's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prizm_core.capabilities import capability_info
from prizm_core.enums import Capability, MediaKind, MediaUnit
from prizm_core.errors import invalid_argument
from provider_servers.remote.model_config import inferred_params
from provider_servers.sdk import ModelSpec, OptionValue, Param, standard_param

__all__ = ["DECLARED", "RUNS_UNLISTED", "ReplicateModel", "unlisted"]

_ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
_MINIMAX_VOICES = (
    "Wise_Woman",
    "Friendly_Person",
    "Inspirational_girl",
    "Deep_Voice_Man",
    "Calm_Woman",
    "Casual_Guy",
    "Lively_Girl",
    "Patient_Man",
    "Young_Knight",
    "Determined_Man",
    "Lovely_Girl",
    "Decent_Boy",
    "Imposing_Manner",
    "Elegant_Man",
    "Abbess",
    "Sweet_Girl_2",
    "Exuberant_Girl",
)
_SIZE_STEP = 32
# What a model named by reference alone may do: every capability whose output a Replicate model
# returns as a file or text; 3D is left out.
RUNS_UNLISTED = tuple(c for c in Capability if c not in (Capability.TEXT_TO_3D, Capability.IMAGE_TO_3D))


@dataclass(frozen=True)
class ReplicateModel:
    """A declared model: its spec, the Replicate model it runs and how options become its input.

    Attributes:
        spec: What Prizm publishes of it (options with bounds, prices).
        ref: What runs it on Replicate (`owner/name`, `owner/name:version` or
            `deployments/owner/name`); the spec's id when empty.
        input_field: The input field the job's input goes into (text as it is, a file as a URL).
        renames: Prizm option name → the model's input field, where they differ.
        values: Per option, Prizm value → the model's value, where they differ (e.g. jpeg → jpg).
        custom_size: `width` and `height` go in as they are with `aspect_ratio: custom`
            (each a multiple of 32).
        output_mime_types: Output MIME type per value of the `format` option.
        typical_s: Seconds a run usually takes, for the estimate of a model billed by
            `COMPUTE_SECOND` (the actual seconds come from `metrics.predict_time`).
        declared: Whether the options were checked against a schema; a model named by its
            reference alone (`unlisted`) passes the job's options through by their own names.
        stream: A language model: its prediction is created with `stream: true` and its text
            relayed from the stream as it is written.
    """

    spec: ModelSpec
    ref: str = ""
    input_field: str = "prompt"
    renames: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    custom_size: bool = False
    output_mime_types: Mapping[str, str] = field(default_factory=dict)
    typical_s: float = 0.0
    stream: bool = False
    declared: bool = True

    @property
    def reference(self) -> str:
        """What runs the model on Replicate."""
        return self.ref or self.spec.id

    def output_mime_type(self, options: Mapping[str, OptionValue]) -> str:
        """The MIME type of the outputs a job with `options` gets; empty when only the file can tell."""
        return self.output_mime_types.get(str(options.get("format", "")), self.spec.output_mime_type)

    def vendor_input(self, source: str, options: Mapping[str, OptionValue]) -> dict[str, Any]:
        """The prediction's `input` for a job's input (text, or a file's URL) and checked options.

        Raises:
            PrizmError: INVALID_ARGUMENT when options the schema cannot express clash
                (a size that is not a multiple of 32, width without height).
        """
        if not self.declared:
            return {**options, self.input_field: source}
        given = dict(options)
        body: dict[str, Any] = {self.input_field: source}
        if self.custom_size:
            body.update(_custom_size(given))
        for name, given_value in given.items():
            value: OptionValue = given_value
            if isinstance(value, str):
                value = self.values.get(name, {}).get(value, value)
            body[self.renames.get(name, name)] = value
        return body


def _custom_size(options: dict[str, OptionValue]) -> dict[str, Any]:
    """`aspect_ratio: custom` with the width and height taken out of `options`, or nothing."""
    width, height = options.pop("width", None), options.pop("height", None)
    if width is None and height is None:
        return {}
    violations = []
    for name, value in (("width", width), ("height", height)):
        if value is None:
            violations.append((f"options.{name}", "give width and height together"))
        elif isinstance(value, int) and value % _SIZE_STEP:
            violations.append((f"options.{name}", f"must be a multiple of {_SIZE_STEP}"))
    if violations:
        raise invalid_argument(violations)
    options.pop("aspect_ratio", None)
    return {"aspect_ratio": "custom", "width": width, "height": height}


def _image_formats(default: str) -> Param:
    return standard_param(
        "format",
        note="Replicate: output_format (jpeg is its jpg).",
        default=default,
        choices=("webp", "jpeg", "png"),
    )


_IMAGE_MIME = {"webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}

FLUX_SCHNELL = ReplicateModel(
    ModelSpec(
        id="black-forest-labs/flux-schnell",
        display_name="FLUX.1 [schnell]",
        description="Black Forest Labs' fastest FLUX text-to-image model, run on Replicate; $0.003 an image.",
        capabilities=(Capability.TEXT_TO_IMAGE,),
        parameters=(
            Param(
                "aspect_ratio", "string", "Aspect ratio of the images.", default="1:1", choices=_ASPECT_RATIOS
            ),
            Param("megapixels", "string", "About how many megapixels.", default="1", choices=("1", "0.25")),
            standard_param("seed", minimum=0, maximum=2**32 - 1),
            standard_param("num_outputs", default=1, minimum=1, maximum=4),
            _image_formats("png"),
            Param(
                "output_quality",
                "integer",
                "Quality of jpeg and webp, 0 to 100.",
                default=80,
                minimum=0,
                maximum=100,
            ),
            Param("num_inference_steps", "integer", "Denoising steps.", default=4, minimum=1, maximum=4),
            Param("go_fast", "boolean", "Faster, fp8-quantized predictions.", default=True),
        ),
        prices={MediaUnit.OUTPUT_IMAGE: 0.003},
        output_mime_type="image/png",
    ),
    renames={"format": "output_format"},
    values={"format": {"jpeg": "jpg"}},
    output_mime_types=_IMAGE_MIME,
)

FLUX_PRO = ReplicateModel(
    ModelSpec(
        id="black-forest-labs/flux-1.1-pro",
        display_name="FLUX1.1 [pro]",
        description=(
            "Black Forest Labs' FLUX1.1 [pro] on Replicate; width and height give the exact size "
            "(multiples of 32), else aspect_ratio; $0.04 an image."
        ),
        capabilities=(Capability.TEXT_TO_IMAGE,),
        parameters=(
            standard_param(
                "width", note="Replicate: aspect_ratio custom; a multiple of 32.", minimum=256, maximum=1440
            ),
            standard_param(
                "height", note="Replicate: aspect_ratio custom; a multiple of 32.", minimum=256, maximum=1440
            ),
            Param(
                "aspect_ratio",
                "string",
                "Aspect ratio, when no width and height.",
                default="1:1",
                choices=_ASPECT_RATIOS,
            ),
            standard_param("seed", minimum=0, maximum=2**32 - 1),
            _image_formats("png"),
            Param(
                "output_quality",
                "integer",
                "Quality of jpeg and webp, 0 to 100.",
                default=80,
                minimum=0,
                maximum=100,
            ),
            Param(
                "safety_tolerance",
                "integer",
                "1 is the strictest, 6 the most permissive.",
                default=2,
                minimum=1,
                maximum=6,
            ),
            Param("prompt_upsampling", "boolean", "Let the model rewrite the prompt.", default=False),
        ),
        prices={MediaUnit.OUTPUT_IMAGE: 0.04},
        output_mime_type="image/png",
    ),
    renames={"format": "output_format"},
    values={"format": {"jpeg": "jpg"}},
    custom_size=True,
    output_mime_types=_IMAGE_MIME,
)

SPEECH_TURBO = ReplicateModel(
    ModelSpec(
        id="minimax/speech-02-turbo",
        display_name="MiniMax Speech-02-Turbo",
        description="MiniMax's low-latency text-to-speech on Replicate; $0.06 per 1,000 input characters.",
        capabilities=(Capability.TEXT_TO_AUDIO,),
        parameters=(
            standard_param(
                "voice", note="Replicate: voice_id.", default="Wise_Woman", choices=_MINIMAX_VOICES
            ),
            standard_param("speed", default=1.0, minimum=0.5, maximum=2.0),
            standard_param(
                "format", note="Replicate: audio_format.", default="mp3", choices=("mp3", "wav", "flac")
            ),
            Param("pitch", "integer", "Semitones up or down.", default=0, minimum=-12, maximum=12),
            Param(
                "volume", "number", "Relative loudness; 1 is normal.", default=1.0, minimum=0.0, maximum=10.0
            ),
            Param(
                "emotion",
                "string",
                "Delivery style.",
                default="auto",
                choices=(
                    "auto",
                    "happy",
                    "sad",
                    "angry",
                    "fearful",
                    "disgusted",
                    "surprised",
                    "calm",
                    "fluent",
                    "neutral",
                ),
            ),
        ),
        prices={MediaUnit.INPUT_CHARACTER: 0.06 / 1000},
        output_mime_type="audio/mpeg",
    ),
    input_field="text",
    renames={"voice": "voice_id", "format": "audio_format"},
    output_mime_types={"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac"},
)

REAL_ESRGAN = ReplicateModel(
    ModelSpec(
        id="nightmareai/real-esrgan",
        display_name="Real-ESRGAN",
        description=(
            "Real-ESRGAN upscaling (optionally GFPGAN face enhancement) on Replicate, run by version on "
            "an Nvidia T4: billed per second of predict time, about 2 s a picture."
        ),
        capabilities=(Capability.IMAGE_TO_IMAGE,),
        parameters=(
            Param(
                "scale", "number", "Factor to scale the picture by.", default=4.0, minimum=0.0, maximum=10.0
            ),
            Param("face_enhance", "boolean", "Run GFPGAN face enhancement.", default=False),
        ),
        prices={MediaUnit.COMPUTE_SECOND: 0.000225},
        input_mime_types=("image/png", "image/jpeg", "image/webp"),
        output_mime_type="image/png",
    ),
    ref="nightmareai/real-esrgan:f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa",
    input_field="image",
    typical_s=2.0,
)

LLAMA_3_8B = ReplicateModel(
    ModelSpec(
        id="meta/meta-llama-3-8b-instruct",
        display_name="Meta Llama 3 8B Instruct",
        description=(
            "Meta's 8-billion-parameter Llama 3, tuned for chat, on Replicate; its answer streams as "
            "it is written. $0.05 per million input tokens, $0.25 per million output tokens."
        ),
        capabilities=(Capability.TEXT_TO_TEXT,),
        parameters=(
            Param(
                "system_prompt",
                "string",
                "How the model should behave.",
                default="You are a helpful assistant",
            ),
            Param("max_tokens", "integer", "Most tokens to write.", default=512, minimum=1, maximum=8192),
            Param(
                "temperature", "number", "Randomness of the answer.", default=0.6, minimum=0.0, maximum=5.0
            ),
            Param(
                "top_p",
                "number",
                "Nucleus sampling: the share of likely tokens kept.",
                default=0.9,
                minimum=0.0,
                maximum=1.0,
            ),
        ),
        prices={MediaUnit.INPUT_TOKEN: 0.05 / 1e6, MediaUnit.OUTPUT_TOKEN: 0.25 / 1e6},
        output_mime_type="text/plain",
    ),
    stream=True,
)

DECLARED: tuple[ReplicateModel, ...] = (
    FLUX_SCHNELL,
    FLUX_PRO,
    SPEECH_TURBO,
    REAL_ESRGAN,
    LLAMA_3_8B,
)
"""The declared models, the first per capability its default."""


def unlisted(ref: str, capability: Capability, options: Mapping[str, object]) -> ReplicateModel:
    """Any Replicate model by its reference alone, undeclared: the job's options go through as given.

    Its parameters are those `options` name, each of the type of its value, so that the SDK's check
    lets exactly them through (and still refuses a list or a null). The job's input goes in
    `prompt` when it is text, else in the field named for its kind (`image`, `audio`, `video`), the
    names most Replicate models use.

    Args:
        ref: `owner/name`, `owner/name:version` or `deployments/owner/name`.
        capability: The job's capability; the model says it can do any of `RUNS_UNLISTED`.
        options: The job's options.
    """
    kind = MediaKind(capability_info(capability).input_kind)
    spec = ModelSpec(
        id=ref,
        display_name=ref,
        description=(
            f"Replicate model {ref}, not declared: its options are passed to Replicate as given, "
            "unchecked and unmapped, and its price is unknown here (the usage reports the predict "
            "time). Declare it in PRIZM_REPLICATE_MODELS to have its options checked and priced."
        ),
        capabilities=RUNS_UNLISTED,
        parameters=inferred_params(options, "passed to Replicate as given"),
    )
    field_name = "prompt" if kind == MediaKind.TEXT else kind.name.lower()
    return ReplicateModel(spec, input_field=field_name, declared=False)
