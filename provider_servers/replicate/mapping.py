"""Pure Replicate ↔ Prizm mapping: model references, predictions, progress bars in logs, outputs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FINISHED",
    "DataUrl",
    "ModelRef",
    "Prediction",
    "StreamEvent",
    "create_body",
    "log_lines",
    "output_items",
    "output_text",
    "parse_data_url",
    "parse_model_ref",
    "parse_prediction",
    "progress_fraction",
    "stream_event",
]

# A prediction in one of these states will not change any more.
FINISHED = frozenset({"succeeded", "failed", "canceled"})
_STATUSES = frozenset({"starting", "processing", *FINISHED})
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_MODEL = re.compile(rf"^(?P<owner>{_NAME})/(?P<name>{_NAME})(?::(?P<version>[A-Za-z0-9]+))?$")
_DEPLOYMENT = re.compile(rf"^deployments/(?P<owner>{_NAME})/(?P<name>{_NAME})$")
_VERSION = re.compile(r"^[0-9a-f]{64}$")
# tqdm's bar as Cog models print it: ` 45%|████▌     | 45/100 [00:04<00:05, 9.8it/s]`. The same pattern
# as replicate-python's `Prediction.Progress`, taken per line of the log.
_BAR = re.compile(r"^\s*(?P<percent>\d{1,3})%\s*\|.*?\|\s*(?P<current>\d+)/(?P<total>\d+)")


@dataclass(frozen=True)
class ModelRef:
    """What a job's `model` names on Replicate: a model, a version of one, or a deployment.

    Attributes:
        kind: `model` (`owner/name`, its latest version), `version` (`owner/name:version` or a bare
            64-hex version id) or `deployment` (`deployments/owner/name`).
        owner: Owner of the model or deployment; empty for a bare version id.
        name: Name of the model or deployment; empty for a bare version id.
        version: The version id, for `kind == "version"`.
    """

    kind: Literal["model", "version", "deployment"]
    owner: str = ""
    name: str = ""
    version: str = ""

    @property
    def create_path(self) -> str:
        """Where a prediction of this reference is created (relative to the base URL)."""
        if self.kind == "model":
            return f"/v1/models/{self.owner}/{self.name}/predictions"
        if self.kind == "deployment":
            return f"/v1/deployments/{self.owner}/{self.name}/predictions"
        return "/v1/predictions"


def parse_model_ref(text: str) -> ModelRef:
    """The reference in a job's model field.

    Raises:
        ValueError: `text` is none of `owner/name`, `owner/name:version`, `deployments/owner/name`
            or a 64-hex version id.
    """
    if match := _DEPLOYMENT.match(text):
        return ModelRef("deployment", match["owner"], match["name"])
    # `deployments/` always starts a deployment: no owner has that name.
    if (match := _MODEL.match(text)) and match["owner"] != "deployments":
        if match["version"]:
            return ModelRef("version", match["owner"], match["name"], match["version"])
        return ModelRef("model", match["owner"], match["name"])
    if _VERSION.match(text):
        return ModelRef("version", version=text)
    raise ValueError(
        f"{text!r} is not a Replicate model: use owner/name, owner/name:version or deployments/owner/name"
    )


def create_body(ref: ModelRef, inputs: Mapping[str, Any], *, stream: bool = False) -> dict[str, Any]:
    """The JSON body that creates a prediction of `ref` with `inputs`."""
    body: dict[str, Any] = {"input": dict(inputs)}
    if ref.kind == "version":
        body["version"] = ref.version
    if stream:
        body["stream"] = True
    return body


@dataclass(frozen=True)
class Prediction:
    """A prediction as Replicate reports it.

    Attributes:
        id: Prediction id.
        status: starting, processing, succeeded, failed or canceled.
        output: The model's output (a URL, a list of them, text or a list of text pieces).
        logs: Everything the model has printed so far.
        error: Why it failed, when it did.
        predict_time: Seconds the model ran, once Replicate reports it.
        urls: `get`, `cancel` and (when streaming) `stream` URLs.
        input_tokens: Tokens a language model read, when Replicate reports them.
        output_tokens: Tokens a language model wrote, when Replicate reports them.
    """

    id: str
    status: str
    output: Any = None
    logs: str = ""
    error: str = ""
    predict_time: float | None = None
    urls: Mapping[str, str] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def finished(self) -> bool:
        """Whether the prediction will not change any more."""
        return self.status in FINISHED


def parse_prediction(body: object) -> Prediction:
    """A prediction from its JSON.

    Raises:
        ValueError: `body` is not a prediction (no id, or an unknown status).
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise ValueError("the response is not a prediction (no id)")
    status = body.get("status")
    if status not in _STATUSES:
        raise ValueError(f"the prediction has an unknown status {status!r}")
    metrics = body.get("metrics") if isinstance(body.get("metrics"), dict) else {}
    seconds = (metrics or {}).get("predict_time")
    urls = body.get("urls") if isinstance(body.get("urls"), dict) else {}
    logs = body.get("logs")
    return Prediction(
        id=body["id"],
        status=str(status),
        output=body.get("output"),
        logs=logs if isinstance(logs, str) else "",
        error=str(body["error"]) if body.get("error") else "",
        predict_time=float(seconds) if isinstance(seconds, int | float) else None,
        urls={k: v for k, v in (urls or {}).items() if isinstance(k, str) and isinstance(v, str)},
        input_tokens=_count((metrics or {}).get("input_token_count")),
        output_tokens=_count((metrics or {}).get("output_token_count")),
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class StreamEvent:
    """One event of a prediction's stream (`urls.stream`, Server-Sent Events).

    Attributes:
        kind: `output` (a piece of the output), `logs` (a log line), `done` (the end; `text` says why
            when it is not success, e.g. `canceled`), `error` (the failure; `text` is its detail), or
            `other` for anything Replicate may add.
        text: The event's text.
    """

    kind: Literal["output", "logs", "done", "error", "other"]
    text: str = ""


def stream_event(event: str, data: str) -> StreamEvent:
    """The meaning of one Server-Sent Event of a prediction's stream."""
    if event in ("output", "logs"):
        return StreamEvent("output" if event == "output" else "logs", data)
    if event in ("done", "error"):
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = data
        words = (
            parsed.get("reason" if event == "done" else "detail", "") if isinstance(parsed, dict) else parsed
        )
        return StreamEvent("done" if event == "done" else "error", str(words or ""))
    return StreamEvent("other", data)


def _lines(logs: str) -> list[str]:
    # tqdm redraws its bar with a carriage return: each redraw is a line of its own.
    return [line for line in re.split(r"[\r\n]+", logs) if line.strip()]


def progress_fraction(logs: str) -> float | None:
    """The fraction done by the last progress bar in `logs`, or None when it has none."""
    for line in reversed(_lines(logs)):
        if match := _BAR.match(line):
            total = int(match["total"])
            if total > 0:
                return min(int(match["current"]) / total, 1.0)
            return min(int(match["percent"]) / 100, 1.0)
    return None


def log_lines(seen: str, logs: str) -> tuple[str, ...]:
    """The lines of `logs` that came after `seen` (Replicate sends the whole log each time),
    without progress bars (they become the fraction)."""
    fresh = logs[len(seen) :] if logs.startswith(seen) else logs
    return tuple(line.rstrip() for line in _lines(fresh) if not _BAR.match(line))


def output_items(output: object) -> list[str]:
    """The files of a prediction's output, as URLs (https or data), in order.

    A model returns one URL, a list of them, or an object whose values are URLs.

    Raises:
        ValueError: the output holds no file URL.
    """
    if isinstance(output, str):
        candidates: list[object] = [output]
    elif isinstance(output, list):
        candidates = list(output)
    elif isinstance(output, dict):
        candidates = list(output.values())
    else:
        candidates = []
    urls = [c for c in candidates if isinstance(c, str) and c.startswith(("https://", "http://", "data:"))]
    if not urls:
        raise ValueError(f"the model returned no file: {str(output)[:200]!r}")
    return urls


def output_text(output: object) -> str:
    """The text of a prediction's output: one string, or the pieces a language model streams.

    Raises:
        ValueError: the output is not text.
    """
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(piece, str) for piece in output):
        return "".join(output)
    raise ValueError(f"the model returned no text: {str(output)[:200]!r}")


@dataclass(frozen=True)
class DataUrl:
    """The content of a `data:` URL."""

    mime_type: str
    data: bytes


def parse_data_url(url: str) -> DataUrl:
    """The content of a `data:` URL (base64 or percent-encoded).

    Raises:
        ValueError: `url` is not a well-formed data URL.
    """
    header, comma, payload = url.partition(",")
    if not header.startswith("data:") or not comma:
        raise ValueError("not a data URL")
    params = header[len("data:") :].split(";")
    mime_type = params[0] or "text/plain"
    if "base64" in params[1:]:
        try:
            return DataUrl(mime_type, base64.b64decode(payload, validate=True))
        except binascii.Error as exc:
            raise ValueError(f"bad base64 in a data URL: {exc}") from None
    return DataUrl(mime_type, urllib.parse.unquote_to_bytes(payload))
