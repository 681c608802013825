"""The YAML config of a generic HTTP provider, declared once with pydantic: validated, with a JSON Schema."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from prizm_core.option_vocabulary import STANDARD_OPTIONS
from provider_servers.http_api.params import ParamConfig, StandardParam, StrictModel
from provider_servers.http_api.paths import check_path
from provider_servers.remote.model_config import CapabilityName

__all__ = [
    "AuthConfig",
    "ConfigError",
    "ErrorsConfig",
    "HttpApiConfig",
    "JobFlowConfig",
    "ModelConfig",
    "Placeholders",
    "RequestTemplate",
    "ResponseMapping",
    "load_config",
]

_ID = r"^[a-z][a-z0-9_-]*$"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"
PriceUnit = Literal[
    "request",
    "input_character",
    "output_image",
    "output_megapixel",
    "output_audio_second",
    "output_video_second",
]
UsageUnit = Literal[
    "request",
    "input_character",
    "input_token",
    "output_token",
    "input_audio_second",
    "output_audio_second",
    "input_video_second",
    "output_video_second",
    "output_image",
    "output_megapixel",
    "compute_second",
]

# Prices in these units are estimated from these options before the call (see mapping.estimate).
_ESTIMATED_FROM: dict[str, set[str]] = {
    "output_megapixel": {"width", "height"},
    "output_audio_second": {"duration_s"},
    "output_video_second": {"duration_s"},
}
# Problems named in a ConfigError's one line; the rest are counted.
_SHOWN = 3


class ConfigError(Exception):
    """A config that cannot be used: the message is one line naming the file and the field."""


class Placeholders(string.Template):
    """`${text}`, `${option.seed}`, `${input.base64}`, `${id}`: braces required, `$$` for a dollar."""

    idpattern = r"(?!)"
    braceidpattern = r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?"


def _template(text: str) -> str:
    template = Placeholders(text)
    if not template.is_valid():
        raise ValueError("bad placeholder: write ${name}, and $$ for a literal $")
    return text


JsonPath = Annotated[
    str, AfterValidator(check_path), Field(description="A JMESPath expression, e.g. data[0].url")
]
Template = Annotated[str, AfterValidator(_template)]


class AuthConfig(StrictModel):
    """Where the key comes from and how it is sent."""

    key_env: str = Field(pattern=_ENV, description="Environment variable holding the API key.")
    header: str = Field(default="Authorization", description="Header that carries the key.")
    scheme: str = Field(
        default="Bearer", description='Word before the key ("Bearer", "Token"); "" for a bare key.'
    )


class ErrorsConfig(StrictModel):
    """How the vendor's error bodies read."""

    message: JsonPath | None = Field(default=None, description="The error message in a JSON error body.")
    content_filtered: JsonPath | None = Field(
        default=None,
        description="True when the error is a content-policy refusal, e.g. name == 'content_moderation'.",
    )


# A JSON body: any YAML structure; strings in it may hold placeholders.
JsonBody = dict[str, Any]


class RequestTemplate(StrictModel):
    """One HTTP request, with placeholders filled in from the job."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: Template = Field(description="Relative to the base URL, or an absolute URL; may hold placeholders.")
    headers: dict[str, Template] = Field(default_factory=dict)
    query: dict[str, Template] = Field(default_factory=dict)
    json_body: JsonBody | None = Field(
        default=None, alias="json", description="A JSON body with placeholders."
    )
    multipart: dict[str, Template] | None = Field(
        default=None, description="Form fields of a multipart body."
    )
    files: dict[str, Literal["input"]] = Field(
        default_factory=dict, description="Multipart file parts: field name -> `input` (the job's input)."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_body(self) -> RequestTemplate:
        if self.json_body is not None and (self.multipart is not None or self.files):
            raise ValueError("a request has a json body or a multipart one, not both")
        return self

    def templates(self) -> Iterator[str]:
        """Every string of the request that may hold placeholders."""
        yield self.path
        yield from self.headers.values()
        yield from self.query.values()
        yield from (self.multipart or {}).values()
        yield from _strings(self.json_body)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class ResponseMapping(StrictModel):
    """Where the output is in the final response."""

    output: Literal["body", "base64", "url", "text"] = Field(
        description="body: the response body is the output; base64/url/text: a field found by `path`."
    )
    path: JsonPath | None = None
    mime_type: Template | None = Field(
        default=None, description="MIME type of the output; default: the Content-Type (body) or the model's."
    )
    usage: dict[UsageUnit, JsonPath] = Field(
        default_factory=dict, description="Actual usage the vendor reports, per media unit."
    )

    @model_validator(mode="after")
    def _path(self) -> ResponseMapping:
        if (self.output == "body") == (self.path is not None):
            raise ValueError("`path` is required for base64, url and text outputs, and refused for body")
        return self


class JobFlowConfig(StrictModel):
    """An asynchronous job: the request submits it, then it is polled until done."""

    id: JsonPath = Field(description="The job id in the submit response.")
    poll: RequestTemplate = Field(description="The status request; ${id} is the job id.")
    interval_s: float = Field(default=1.0, gt=0, le=60)
    status: JsonPath
    done: tuple[str, ...] = Field(min_length=1)
    failed: tuple[str, ...] = Field(min_length=1)
    queued: tuple[str, ...] = ()
    progress: JsonPath | None = None
    progress_scale: Literal["fraction", "percent"] = "fraction"
    queue_position: JsonPath | None = None
    error: JsonPath | None = Field(
        default=None, description="Why a failed job failed, in the status response."
    )
    result: RequestTemplate | None = Field(
        default=None, description="Fetches the result when the status lacks it."
    )
    cancel: RequestTemplate | None = None
    timeout_s: float = Field(default=3600.0, gt=0, description="Longest a job may run before it is given up.")

    def templates(self) -> Iterator[str]:
        """Every string of the flow's requests that may hold placeholders."""
        for request in (self.poll, self.result, self.cancel):
            if request is not None:
                yield from request.templates()


class ModelConfig(StrictModel):
    """One model the API serves."""

    id: str = Field(pattern=_ID)
    display_name: str = ""
    description: str
    capabilities: tuple[CapabilityName, ...] = Field(min_length=1)
    parameters: tuple[ParamConfig, ...] = ()
    prices: dict[PriceUnit, float] = Field(default_factory=dict, description="Price per media unit.")
    currency: str = "USD"
    input_mime_types: tuple[str, ...] = ()
    output_mime_type: str = ""
    request: RequestTemplate
    response: ResponseMapping
    job: JobFlowConfig | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> ModelConfig:
        names = {param.param().name for param in self.parameters}
        if len(names) < len(self.parameters):
            raise ValueError("parameters: a name is declared twice")
        for param in self.parameters:
            if isinstance(param, StandardParam) and not set(self.capabilities) & set(_applies(param)):
                raise ValueError(
                    f"parameters: {param.standard} is standard for {', '.join(_applies(param))} only"
                )
        allowed = {f"option.{name}" for name in names} | {"text", "input.base64", "input.data_url"}
        allowed |= {"input.mime_type"}
        _check(self.request.templates(), allowed, "request")
        if self.response.mime_type is not None:
            _check([self.response.mime_type], allowed, "response.mime_type")
        if self.job is not None:
            _check(self.job.templates(), allowed | {"id"}, "job")
        for unit, needs in _ESTIMATED_FROM.items():
            if unit in self.prices and not needs <= names:
                raise ValueError(
                    f"prices.{unit}: estimated from the options {', '.join(sorted(needs))}: declare them"
                )
        return self


def _applies(param: StandardParam) -> tuple[str, ...]:
    return next(option.capabilities for option in STANDARD_OPTIONS if option.name == param.standard)


def _check(templates: Iterator[str] | list[str], allowed: set[str], where: str) -> None:
    for text in templates:
        for name in Placeholders(text).get_identifiers():
            if name not in allowed:
                raise ValueError(
                    f"{where}: unknown placeholder ${{{name}}} (known: {', '.join(sorted(allowed))})"
                )


class HttpApiConfig(StrictModel):
    """A JSON HTTP API served as a Prizm provider, without code."""

    id: str = Field(pattern=_ID, description="The provider id, unique in a mesh.")
    display_name: str = ""
    description: str = ""
    base_url: str = Field(pattern=r"^https?://", description="The API's base URL.")
    base_url_env: str | None = Field(
        None, pattern=_ENV, description="Environment variable overriding base_url."
    )
    auth: AuthConfig | None = Field(default=None, description="Omit for an API without a key.")
    health_path: str = Field(description="A free GET endpoint, relative to the base URL; never a paid call.")
    health_interval_s: float = Field(default=30.0, gt=0)
    errors: ErrorsConfig = ErrorsConfig()
    models: tuple[ModelConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_models(self) -> HttpApiConfig:
        ids = [model.id for model in self.models]
        if len(set(ids)) < len(ids):
            raise ValueError("models: a model id is declared twice")
        return self


def _where(error: dict[str, Any]) -> str:
    # Union members' tags ("standard", "own") are not part of the field's path in the file.
    parts = [str(part) for part in error["loc"] if part not in {"standard", "own"}]
    return ".".join(parts) or "(top level)"


def load_config(path: Path) -> HttpApiConfig:
    """Reads and validates a config file.

    Raises:
        ConfigError: one line naming the file and the bad fields (the first three), e.g.
            `stability.yaml: models.0.request.path: Field required`.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it: {' '.join(str(exc).split())}") from None
    try:
        return HttpApiConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_where(dict(error))}: {' '.join(str(error['msg']).split())}" for error in exc.errors()]
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise ConfigError(f"{path}: {'; '.join(problems[:_SHOWN])}{more}") from None
