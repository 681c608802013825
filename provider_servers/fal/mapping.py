"""Pure fal mapping: a job to queue arguments, queue statuses to progress, results to outputs and usage."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prizm_core.capabilities import capability_info
from prizm_core.enums import Capability, JobState, MediaKind, MediaUnit
from provider_servers.sdk import ModelSpec, OptionValue, Progress

__all__ = [
    "STANDARD_FIELDS",
    "FalFile",
    "FalJobError",
    "FalModel",
    "Status",
    "arguments",
    "estimate",
    "mime_type",
    "output_files",
    "output_kind",
    "output_text",
    "status_of",
    "usage",
]

# Standard options (docs/options.md) and the input field most fal models give them; a model's
# config may rename any (`fields`). `width` and `height` go together into `size_field`.
STANDARD_FIELDS: Mapping[str, str] = {
    "seed": "seed",
    "num_outputs": "num_images",
    "negative_prompt": "negative_prompt",
    "format": "output_format",
    "duration_s": "duration",
    "fps": "fps",
    "voice": "voice",
    "language": "language",
    "speed": "speed",
    "sample_rate": "sample_rate",
}
# The result fields fal's media models put their files in, looked for in this order.
_FILE_FIELDS = ("images", "image", "video", "audio", "audio_file", "audio_url", "file")
_TEXT_FIELDS = ("text", "output", "transcription")
# "42%", "42.5 %": the last one in a batch of log lines is the job's fraction done.
_PERCENT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s?%")
# tqdm's "12/50 [00:03<00:09": steps done of steps.
_STEPS = re.compile(r"(?<![\d.])(\d+)/(\d+)\s*\[")
_MIME_BY_FORMAT = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class FalModel:
    """A fal model endpoint and how a job maps to its input and result.

    Attributes:
        spec: The model as Prizm publishes it (its id is fal's endpoint id, e.g. `fal-ai/flux/schnell`).
        prompt_field: Input field a text input goes to.
        input_field: Input field the URL of a file input goes to (e.g. `image_url`).
        size_field: Input field `width` and `height` go to as `{width, height}`; empty sends them
            as two fields of their own names.
        fields: Standard option name to fal input field, where the model differs from `STANDARD_FIELDS`.
        output_field: Result field holding the output (a file, a list of files, or text); empty
            looks for fal's usual ones.
        compute_s: A typical run's compute seconds, for estimates of a model priced per second.
        declared: Whether the options were checked against a schema; an undeclared model passes
            the caller's options through by their own names.
    """

    spec: ModelSpec
    prompt_field: str = "prompt"
    input_field: str = ""
    size_field: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    output_field: str = ""
    compute_s: float = 0.0
    declared: bool = True


@dataclass(frozen=True)
class FalFile:
    """A file in a fal result: where to download it and what fal says it is."""

    url: str
    mime_type: str = ""
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Status:
    """One queue status read: progress to report and whether the result is ready."""

    progress: Progress
    completed: bool
    logs_seen: int


class FalJobError(Exception):
    """fal accepted the request and then reported it failed; the message is fal's words."""


def _input_field(model: FalModel, kind: MediaKind) -> str:
    return model.input_field or f"{kind.name.lower()}_url"


def _option_fields(model: FalModel, options: Mapping[str, OptionValue]) -> dict[str, object]:
    """The options as fal input fields: standard ones renamed, the model's own by their names."""
    if not model.declared:
        return dict(options)
    mapped: dict[str, object] = {}
    size = {k: options[k] for k in ("width", "height") if k in options}
    if size and model.size_field:
        mapped[model.size_field] = size
    elif size:
        mapped.update(size)
    for name, value in options.items():
        if name in ("width", "height"):
            continue
        mapped[model.fields.get(name) or STANDARD_FIELDS.get(name, name)] = value
    return mapped


def arguments(
    model: FalModel,
    kinds: Sequence[MediaKind],
    texts: Sequence[str],
    urls: Sequence[str],
    options: Mapping[str, OptionValue],
) -> dict[str, object]:
    """The JSON body of a queue submission.

    Args:
        model: The model and its field mapping.
        kinds: Each input's media kind, in order.
        texts: The text of each text input, in order.
        urls: The URL (fal storage or data URI) of each file input, in order.
        options: The job's options (checked, with defaults, for a declared model).
    """
    body = _option_fields(model, options)
    if texts:
        body[model.prompt_field] = "\n".join(texts)
    files = [kind for kind in kinds if kind != MediaKind.TEXT]
    if urls:
        name = _input_field(model, files[0])
        body[name] = urls[0] if len(urls) == 1 else list(urls)
    return body


def _fraction(lines: Sequence[str]) -> float | None:
    """The last percentage or tqdm step count in `lines`, as a fraction; None if there is none."""
    for line in reversed(lines):
        steps = _STEPS.findall(line)
        if steps and int(steps[-1][1]) > 0:
            done, total = (int(n) for n in steps[-1])
            return min(done / total, 1.0)
        percents = _PERCENT.findall(line)
        if percents:
            return min(float(percents[-1]) / 100.0, 1.0)
    return None


def _log_lines(data: Mapping[str, object], seen: int) -> tuple[list[str], int]:
    logs = data.get("logs")
    entries = logs if isinstance(logs, list) else []
    lines = [str(e.get("message", "")) for e in entries[seen:] if isinstance(e, dict)]
    return [line for line in lines if line.strip()], max(len(entries), seen)


def status_of(data: Mapping[str, object], logs_seen: int) -> Status:
    """Maps one response of `GET .../requests/{id}/status?logs=1`.

    fal's `queue_position` counts from 0 (next in line); Prizm's from 1, as 0 means "not queued".
    fal returns every log line so far on each read: only those after `logs_seen` are new.

    Raises:
        FalJobError: the request completed with an error, or ended in a state other than success.
    """
    state = str(data.get("status", ""))
    lines, seen = _log_lines(data, logs_seen)
    if state == "IN_QUEUE":
        given = data.get("queue_position")
        position = (given if isinstance(given, int) and given >= 0 else 0) + 1
        progress = Progress(
            stage="queue",
            message=f"position {position} in fal's queue",
            state=JobState.QUEUED,
            queue_position=position,
            logs=tuple(lines),
        )
        return Status(progress, False, seen)
    if state == "IN_PROGRESS":
        return Status(Progress(_fraction(lines), "fal", "running on fal", logs=tuple(lines)), False, seen)
    if state == "COMPLETED":
        error = data.get("error")
        if error:
            raise FalJobError(str(error))
        return Status(Progress(1.0, "fal", "done on fal", logs=tuple(lines)), True, seen)
    raise FalJobError(f"request ended {state or 'in an unknown state'}")


def _file(value: object) -> FalFile | None:
    if isinstance(value, str) and value.startswith(("http://", "https://", "data:")):
        return FalFile(value)
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        return None
    return FalFile(
        value["url"],
        str(value.get("content_type") or ""),
        int(value.get("width") or 0),
        int(value.get("height") or 0),
    )


def output_files(model: FalModel, result: Mapping[str, object]) -> list[FalFile]:
    """The files a result holds, in order: the model's output field, or fal's usual ones."""
    names = (model.output_field,) if model.output_field else _FILE_FIELDS
    for name in names:
        value = result.get(name)
        values = value if isinstance(value, list) else [value]
        files = [f for f in (_file(v) for v in values) if f is not None]
        if files:
            return files
    return []


def output_text(model: FalModel, result: Mapping[str, object]) -> str | None:
    """The text a result holds (transcription, completion); None if it has none."""
    names = (model.output_field,) if model.output_field else _TEXT_FIELDS
    for name in names:
        value = result.get(name)
        if isinstance(value, str):
            return value
    return None


def mime_type(model: FalModel, found: FalFile, options: Mapping[str, OptionValue]) -> str:
    """The output's MIME type: fal's word for it, else the one `format` implies, else the model's."""
    if found.mime_type:
        return found.mime_type
    fmt = options.get("format")
    return _MIME_BY_FORMAT.get(str(fmt), "") or model.spec.output_mime_type or "application/octet-stream"


def usage(
    model: FalModel, result: Mapping[str, object], options: Mapping[str, OptionValue]
) -> dict[MediaUnit, float]:
    """The work a result shows, in the units the model is priced in (empty: nothing to report).

    Images are counted and their megapixels summed from fal's `width`/`height`; compute seconds
    come from fal's `timings.inference`; video seconds from the `duration_s` option asked for.
    """
    prices = model.spec.prices
    files = output_files(model, result)
    amounts: dict[MediaUnit, float] = {}
    if MediaUnit.OUTPUT_IMAGE in prices:
        amounts[MediaUnit.OUTPUT_IMAGE] = float(len(files))
    if MediaUnit.OUTPUT_MEGAPIXEL in prices and files and all(f.width and f.height for f in files):
        amounts[MediaUnit.OUTPUT_MEGAPIXEL] = sum(f.width * f.height for f in files) / 1_000_000
    timings = result.get("timings")
    if MediaUnit.COMPUTE_SECOND in prices and isinstance(timings, dict) and "inference" in timings:
        amounts[MediaUnit.COMPUTE_SECOND] = float(timings["inference"])
    if MediaUnit.OUTPUT_VIDEO_SECOND in prices and isinstance(options.get("duration_s"), int | float):
        amounts[MediaUnit.OUTPUT_VIDEO_SECOND] = float(options["duration_s"])
    if MediaUnit.REQUEST in prices:
        amounts[MediaUnit.REQUEST] = 1.0
    return amounts


def estimate(
    model: FalModel, options: Mapping[str, OptionValue], characters: float = 0.0
) -> dict[MediaUnit, float]:
    """The work a job will take, before the call, in the units the model is priced in.

    Megapixels come from `width` x `height` (the defaults when not given) times `num_outputs`;
    video seconds from `duration_s`; compute seconds from the model's declared typical run;
    characters are those of the job's text (fal bills speech by them).
    """
    prices = model.spec.prices
    count = float(options.get("num_outputs", 1) or 1)
    amounts: dict[MediaUnit, float] = {}
    if MediaUnit.OUTPUT_IMAGE in prices:
        amounts[MediaUnit.OUTPUT_IMAGE] = count
    width, height = options.get("width"), options.get("height")
    if MediaUnit.OUTPUT_MEGAPIXEL in prices and isinstance(width, int) and isinstance(height, int):
        amounts[MediaUnit.OUTPUT_MEGAPIXEL] = count * width * height / 1_000_000
    duration = options.get("duration_s")
    if MediaUnit.OUTPUT_VIDEO_SECOND in prices and isinstance(duration, int | float):
        amounts[MediaUnit.OUTPUT_VIDEO_SECOND] = float(duration)
    if MediaUnit.COMPUTE_SECOND in prices:
        amounts[MediaUnit.COMPUTE_SECOND] = model.compute_s
    if MediaUnit.INPUT_CHARACTER in prices:
        amounts[MediaUnit.INPUT_CHARACTER] = characters
    if MediaUnit.REQUEST in prices or not amounts:
        amounts[MediaUnit.REQUEST] = 1.0
    return amounts


def output_kind(capability: Capability) -> MediaKind:
    """The media kind a capability produces."""
    return MediaKind(capability_info(capability).output_kind)
