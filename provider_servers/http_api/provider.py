"""A provider for any JSON HTTP API, described by a YAML file instead of code."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx

from prizm_core.capabilities import capability_by_name, capability_info
from prizm_core.errors import PrizmError
from provider_servers.http_api.config import (
    ConfigError,
    ErrorsConfig,
    HttpApiConfig,
    JobFlowConfig,
    ModelConfig,
    RequestTemplate,
    load_config,
)
from provider_servers.http_api.mapping import (
    Rendered,
    Values,
    estimate,
    field_values,
    fill_text,
    job_values,
    read_status,
    render_request,
    reported_usage,
)
from provider_servers.http_api.paths import INSTALL_HINT, installed, search
from provider_servers.remote import (
    DOWNLOAD_CHUNK_BYTES,
    RemoteProvider,
    RequestBody,
    Vendor,
    VendorHttp,
    vendor_error,
)
from provider_servers.sdk import (
    Capability,
    Event,
    Job,
    JobState,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Progress,
    Usage,
)

__all__ = ["CONFIG_ENV", "ConfiguredHttp", "HttpApiProvider", "model_spec"]

log = logging.getLogger(__name__)

CONFIG_ENV = "PRIZM_HTTP_API_CONFIG"
# A cancel is sent once, and not waited for longer than this: the job is over for the caller either way.
_CANCEL_TIMEOUT_S = 10.0


def _config(environ: Mapping[str, str]) -> HttpApiConfig:
    path = environ.get(CONFIG_ENV, "").strip()
    if not path:
        raise ConfigError(f"set {CONFIG_ENV} to the YAML file that describes the API")
    return load_config(Path(path))


def model_spec(model: ModelConfig) -> ModelSpec:
    """The SDK's description of a configured model."""
    return ModelSpec(
        id=model.id,
        display_name=model.display_name or model.id,
        description=model.description,
        capabilities=tuple(Capability(capability_by_name(name).value) for name in model.capabilities),
        parameters=tuple(param.param() for param in model.parameters),
        prices={MediaUnit[unit.upper()]: price for unit, price in model.prices.items()},
        currency=model.currency,
        input_mime_types=model.input_mime_types,
        output_mime_type=model.output_mime_type,
    )


class ConfiguredHttp(VendorHttp):
    """`VendorHttp` reading error bodies where the config says the message and the policy flag are."""

    def __init__(self, errors: ErrorsConfig, vendor: Vendor, api_key: str, base_url: str) -> None:
        super().__init__(vendor, api_key, base_url)
        self._errors = errors

    def error_text(self, body: bytes) -> tuple[str, bool]:
        """The message at `errors.message` and the flag at `errors.content_filtered`, where set."""
        words, filtered = super().error_text(body)
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            return words, filtered
        if self._errors.message is not None:
            found = search(self._errors.message, parsed)
            words = found if isinstance(found, str) and found else words
        if self._errors.content_filtered is not None:
            filtered = bool(search(self._errors.content_filtered, parsed))
        return words, filtered


class HttpApiProvider(RemoteProvider):
    """Serves the models of one YAML file (`PRIZM_HTTP_API_CONFIG`), calling the API it describes.

    The id, vendor, key variable and health endpoint come from the file: `from_environment`
    returns an instance of a subclass bound to it, so several configs run side by side, one
    process each.
    """

    id = "http_api"
    display_name: ClassVar[str] = "HTTP API"
    description: ClassVar[str] = "Any JSON HTTP API, described by a YAML file"
    # The class bound to a config (`from_environment`) sets these from it; unbound, it calls nothing.
    vendor: ClassVar[Vendor] = Vendor("http_api", "", "", "http://127.0.0.1")
    health_path: ClassVar[str] = "/"
    config: ClassVar[HttpApiConfig | None] = None

    @classmethod
    def missing(cls) -> list[str]:
        """The `http_api` extra, a config that cannot be read or used, or the key it names."""
        if not installed():
            return [INSTALL_HINT]
        try:
            config = _config(os.environ)
        except ConfigError as exc:
            return [str(exc)]
        if config.auth is not None and not os.environ.get(config.auth.key_env, "").strip():
            return [f"set {config.auth.key_env} to use {config.id}"]
        return []

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """The provider of the config `PRIZM_HTTP_API_CONFIG` names, key and base URL from the
        variables the config names.

        Without `PRIZM_HTTP_API_CONFIG` it has no models (and `missing()` keeps it from starting).

        Raises:
            ConfigError: The config cannot be read or is not valid.
        """
        if not environ.get(CONFIG_ENV, "").strip():
            return cls("", "")
        config = _config(environ)
        auth = config.auth
        vendor = Vendor(
            name=config.id,
            key_env=auth.key_env if auth else "",
            base_url_env=config.base_url_env or "",
            default_base_url=config.base_url,
            auth_header=auth.header if auth else "Authorization",
            auth_scheme=auth.scheme if auth else "",
        )
        bound = type(
            f"HttpApiProvider[{config.id}]",
            (cls,),
            {
                "id": config.id,
                "display_name": config.display_name or config.id,
                "description": config.description,
                "vendor": vendor,
                "health_path": config.health_path,
                "health_interval_s": config.health_interval_s,
                "config": config,
            },
        )
        key = environ.get(vendor.key_env, "").strip() if vendor.key_env else ""
        base_url = environ.get(vendor.base_url_env, "").strip() if vendor.base_url_env else ""
        provider: Self = bound(key, base_url)
        return provider

    @property
    def _settings(self) -> HttpApiConfig:
        assert self.config is not None  # noqa: S101 - set on every class from_environment builds
        return self.config

    @property
    def http(self) -> VendorHttp:
        """The API's HTTP client, reading error bodies as the config says."""
        if self._http is None:
            self._http = ConfiguredHttp(self._settings.errors, self.vendor, self.api_key, self.base_url)
        return self._http

    def models(self) -> Sequence[ModelSpec]:
        """The config's models; none without a config."""
        return [model_spec(model) for model in self.config.models] if self.config is not None else []

    def _model(self, model_id: str) -> ModelConfig:
        return next(model for model in self._settings.models if model.id == model_id)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """The work in each unit the model is priced in, from the input and the options."""
        return estimate(list(self._model(job.model.id).prices), job)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Sends the request; for an asynchronous API follows the job to its end; yields the outputs."""
        model = self._model(job.model.id)
        values = job_values(job)
        final, paid = model.request, True  # the request whose response holds the outputs
        if model.job is not None:
            submitted = await self._send(model.request, values, paid=True)
            values = dataclasses.replace(values, job_id=self._job_id(model.job, self._json(submitted)))
            polled: list[httpx.Response] = []
            # Closed here even when the caller stops listening, so that the job is cancelled upstream.
            async with contextlib.aclosing(self._follow(model.job, values, polled)) as progress:
                async for step in progress:
                    yield step
            if model.job.result is None:
                async for event in self._outputs(model, job, polled[-1], values):
                    yield event
                return
            final, paid = model.job.result, False
        # Streamed: an output that is the response body is relayed as it arrives, in flat memory.
        request = render_request(final, values)
        async with self.http.stream(
            request.method, request.path, paid=paid, accepted=not paid, **_arguments(request)
        ) as response:
            async for event in self._outputs(model, job, response, values):
                yield event

    async def _send(
        self, template: RequestTemplate, values: Values, *, paid: bool, accepted: bool = False
    ) -> httpx.Response:
        request = render_request(template, values)
        return await self.http.request(
            request.method, request.path, paid=paid, accepted=accepted, **_arguments(request)
        )

    def _job_id(self, flow: JobFlowConfig, body: Any) -> str:
        found = search(flow.id, body)
        if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
            return str(found)
        raise self._failed(f"the submit response has no job id at {flow.id}")

    async def _follow(
        self, flow: JobFlowConfig, values: Values, polled: list[httpx.Response]
    ) -> AsyncGenerator[Progress]:
        """Polls the job until it is done (its last response appended to `polled`), yielding its
        progress; cancels it upstream when the job is cancelled or runs out of time here."""
        deadline = time.monotonic() + flow.timeout_s
        settled = False
        try:
            while True:
                response = await self._send(flow.poll, values, paid=False, accepted=True)
                status = read_status(flow, self._json(response))
                if status.state == "done":
                    settled = True
                    polled.append(response)
                    return
                if status.state == "failed":
                    settled = True
                    words = status.error or f"it ended as {status.status}"
                    raise self._failed(self.http.scrub(words))
                queued = status.state == "queued" or status.queue_position > 0
                yield Progress(
                    fraction=status.fraction,
                    stage=status.status,
                    message=f"{self.vendor.name}: {status.status}",
                    state=JobState.QUEUED if queued else JobState.RUNNING,
                    queue_position=status.queue_position,
                )
                if time.monotonic() > deadline:
                    raise self._failed(f"not done after {flow.timeout_s:g} s; cancelled")
                await asyncio.sleep(flow.interval_s)
        finally:
            if not settled and flow.cancel is not None:
                await self._cancel(flow.cancel, values)

    async def _cancel(self, template: RequestTemplate, values: Values) -> None:
        """Asks the API to stop the job: once, briefly, and a failure only logged."""
        try:
            async with asyncio.timeout(_CANCEL_TIMEOUT_S):
                await self._send(template, values, paid=True, accepted=True)
        except (PrizmError, TimeoutError) as exc:
            log.warning("%s: cancelling job %s failed: %s", self.id, values.job_id, exc)
        else:
            log.info("%s: cancelled job %s", self.id, values.job_id)

    async def _outputs(
        self, model: ModelConfig, job: Job, response: httpx.Response, values: Values
    ) -> AsyncIterator[Event]:
        mapping = model.response
        kind = MediaKind(capability_info(job.capability).output_kind)
        fallback = "text/plain" if mapping.output == "text" else "application/octet-stream"
        mime_type = model.output_mime_type or fallback
        if mapping.mime_type is not None:
            mime_type = fill_text(mapping.mime_type, values)
        if mapping.output == "body":
            if response.headers.get("content-length") == "0":
                raise self._failed("the response body is empty")
            given = response.headers.get("content-type", "").split(";")[0].strip()
            mime_type = mime_type if mapping.mime_type or not given else given
            yield Output(kind, mime_type, self._body(response))
            return
        await response.aread()
        assert mapping.path is not None  # noqa: S101 - the config requires it for these outputs
        body = self._json(response)
        found = field_values(body, mapping.path)
        if not found:
            raise self._failed(f"the response has no output at {mapping.path}")
        for item in found:
            yield self._output(mapping.output, kind, mime_type, item)
        if reported := reported_usage(mapping, body):
            # What the vendor reports replaces the estimate unit by unit; the rest stays estimated.
            yield Usage({**self.measure(job), **reported})

    async def _body(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The response body as it arrives; a broken transfer is the job's failure (it was accepted)."""
        try:
            async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                yield chunk
        except httpx.HTTPError as exc:
            raise self._failed(f"the output broke off: {type(exc).__name__}") from None

    def _failed(self, words: str) -> PrizmError:
        """The error of a job the API accepted and then failed (never rerun elsewhere)."""
        return vendor_error(None, words, accepted=True, vendor=self.vendor.name)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._failed(f"answered HTTP {response.status_code} with a body that is not JSON") from None

    def _output(self, how: str, kind: MediaKind, mime_type: str, item: str) -> Output:
        if how == "url":
            return Output(kind, mime_type, self.http.download(item))
        if how == "text":
            return Output(kind, mime_type, item.encode())
        try:
            return Output(kind, mime_type, base64.b64decode(item, validate=True))
        except binascii.Error:
            raise self._failed("the output field is not base64") from None


def _arguments(request: Rendered) -> RequestBody:
    """The body, query and headers of `request` as `VendorHttp` takes them."""
    files: dict[str, Any] | None = None
    if request.data is not None:
        # Form fields travel as file parts without a file name: httpx then always sends
        # multipart/form-data, which APIs that take files expect even when none is sent.
        files = {name: (None, value) for name, value in request.data.items()}
        files.update(request.files or {})
    return RequestBody(
        json=request.json, files=files, params=request.params or None, headers=request.headers or None
    )
