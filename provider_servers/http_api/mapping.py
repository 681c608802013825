"""Pure mapping between a job and a configured HTTP API: requests filled in, responses read."""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from prizm_core.enums import MediaKind, MediaUnit
from prizm_core.errors import invalid_argument
from provider_servers.http_api.config import JobFlowConfig, Placeholders, RequestTemplate, ResponseMapping
from provider_servers.http_api.paths import search
from provider_servers.remote import data_url, file_name
from provider_servers.sdk import InputAsset, Job, OptionValue

__all__ = [
    "Polled",
    "Rendered",
    "Values",
    "estimate",
    "field_values",
    "fill_text",
    "job_values",
    "read_status",
    "render_request",
    "reported_usage",
]


@dataclass(frozen=True)
class Values:
    """What placeholders are filled in from.

    Attributes:
        options: The job's options, defaults filled in.
        text: The input text, for capabilities that take text.
        asset: The input file, for capabilities that take media.
        job_id: The vendor's id of a submitted job (`${id}`).
    """

    options: Mapping[str, OptionValue]
    text: str | None = None
    asset: InputAsset | None = None
    job_id: str | None = None

    def lookup(self, name: str) -> OptionValue | None:
        """The value of the placeholder `name`; None when the job has none (the field is left out)."""
        if name.startswith("option."):
            return self.options.get(name.removeprefix("option."))
        if name.startswith("input."):
            return self._input(name.removeprefix("input."))
        return {"text": self.text, "id": self.job_id}.get(name)

    def _input(self, what: str) -> str | None:
        if self.asset is None:
            return None
        if what == "mime_type":
            return self.asset.mime_type
        if what == "base64":
            return base64.b64encode(self.asset.read()).decode("ascii")
        try:
            return data_url(self.asset)
        except ValueError as exc:
            problem = f"this model takes its input as a data URL: {exc}"
            raise invalid_argument([("inputs[0]", problem)]) from None


def job_values(job: Job) -> Values:
    """The placeholders' values for `job`: its options and its input, as text or as a file."""
    asset = job.inputs[0] if job.inputs else None
    if asset is not None and asset.kind == MediaKind.TEXT:
        return Values(job.options, text=asset.text())
    return Values(job.options, asset=asset)


@dataclass(frozen=True)
class Rendered:
    """A request ready to send (arguments of `VendorHttp.request`)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


def _as_text(value: OptionValue | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(template: str, values: Values, *, quoted: bool = False) -> OptionValue | None:
    """A template filled in: a lone placeholder keeps its value's type (None when absent), text otherwise."""
    names = Placeholders(template).get_identifiers()
    if len(names) == 1 and template == f"${{{names[0]}}}":
        return values.lookup(names[0])
    filled = {}
    for name in names:
        text = _as_text(values.lookup(name))
        filled[name] = quote(text, safe="") if quoted else text
    return Placeholders(template).substitute(filled)


def fill_text(template: str, values: Values) -> str:
    """A template filled in as text (a placeholder without a value becomes empty)."""
    return _as_text(_fill(template, values))


def _fill_json(value: Any, values: Values) -> Any:
    """A JSON body filled in; fields and items whose placeholder has no value are left out."""
    if isinstance(value, str):
        return _fill(value, values)
    if isinstance(value, dict):
        filled = {key: _fill_json(item, values) for key, item in value.items()}
        return {key: item for key, item in filled.items() if item is not None}
    if isinstance(value, list):
        return [item for item in (_fill_json(entry, values) for entry in value) if item is not None]
    return value


def _texts(templates: Mapping[str, str], values: Values) -> dict[str, str]:
    filled = {key: _fill(template, values) for key, template in templates.items()}
    return {key: _as_text(value) for key, value in filled.items() if value is not None}


def render_request(template: RequestTemplate, values: Values) -> Rendered:
    """The request `template` describes, filled in from `values`."""
    path = _as_text(_fill(template.path, values, quoted=True))
    files = None
    if template.files and values.asset is not None:
        part = (file_name(values.asset), values.asset.read(), values.asset.mime_type.split(";")[0].strip())
        files = {name: part for name in template.files}
    multipart = template.multipart is not None or bool(template.files)
    return Rendered(
        method=template.method,
        path=path,
        headers=_texts(template.headers, values),
        params=_texts(template.query, values),
        json=_fill_json(template.json_body, values) if template.json_body is not None else None,
        data=_texts(template.multipart or {}, values) if multipart else None,
        files=files,
    )


def field_values(body: Any, expression: str) -> list[str]:
    """The strings `expression` finds in `body`: one, or each of a list; empty when it finds none."""
    found = search(expression, body)
    items = found if isinstance(found, list) else [found]
    return [item for item in items if isinstance(item, str) and item]


def reported_usage(mapping: ResponseMapping, body: Any) -> dict[MediaUnit, float]:
    """The usage the vendor reports in `body`, per media unit (units it leaves out are left out)."""
    amounts: dict[MediaUnit, float] = {}
    for unit, expression in mapping.usage.items():
        value = search(expression, body) if isinstance(body, dict | list) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            amounts[MediaUnit[unit.upper()]] = float(value)
    return amounts


@dataclass(frozen=True)
class Polled:
    """A job's status as the vendor reports it.

    Attributes:
        state: Where the job is; `running` for any status the config does not name.
        status: The vendor's own word for it.
        fraction: How much is done, 0 to 1, when the vendor says.
        queue_position: Place in the vendor's queue; 0 when not queued or not said.
        error: Why a failed job failed, when the vendor says.
    """

    state: Literal["queued", "running", "done", "failed"]
    status: str
    fraction: float | None = None
    queue_position: int = 0
    error: str = ""


def _number(body: Any, expression: str | None) -> float | None:
    if expression is None:
        return None
    value = search(expression, body)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_status(flow: JobFlowConfig, body: Any) -> Polled:
    """Reads a status response under the job flow's mapping."""
    status = _as_text(search(flow.status, body))
    state: Literal["queued", "running", "done", "failed"] = "running"
    if status in flow.done:
        state = "done"
    elif status in flow.failed:
        state = "failed"
    elif status in flow.queued:
        state = "queued"
    fraction = _number(body, flow.progress)
    if fraction is not None:
        fraction = min(max(fraction / 100 if flow.progress_scale == "percent" else fraction, 0.0), 1.0)
    position = _number(body, flow.queue_position)
    error = search(flow.error, body) if flow.error else None
    return Polled(
        state=state,
        status=status,
        fraction=fraction,
        queue_position=max(int(position), 0) if position is not None else 0,
        error=error if isinstance(error, str) else "",
    )


def estimate(units: Collection[str], job: Job) -> dict[MediaUnit, float]:
    """The work `job` will take in each of `units` (the model's priced ones; one request if none)."""
    if not units:
        return {MediaUnit.REQUEST: 1.0}
    count = job.options.get("num_outputs", 1)
    outputs = float(count) if isinstance(count, int | float) else 1.0
    width, height = job.options.get("width"), job.options.get("height")
    duration = job.options.get("duration_s")
    text = job.inputs[0].text() if job.inputs and job.inputs[0].kind == MediaKind.TEXT else ""
    known: dict[str, float] = {
        "request": 1.0,
        "input_character": float(len(text)),
        "output_image": outputs,
        "output_megapixel": (
            outputs * width * height / 1e6
            if isinstance(width, int | float) and isinstance(height, int | float)
            else 0.0
        ),
        "output_audio_second": float(duration) if isinstance(duration, int | float) else 0.0,
        "output_video_second": float(duration) if isinstance(duration, int | float) else 0.0,
    }
    return {MediaUnit[unit.upper()]: known[unit] for unit in units}
