"""fal: any model on fal's queue API, with queue position, logs and cancel; inputs through fal storage."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx

from prizm_core import __version__
from prizm_core.errors import PrizmError, invalid_argument
from provider_servers.fal.catalog import (
    BUILT_IN,
    ENDPOINT_ID,
    load_models,
    parse_models,
    passthrough,
)
from provider_servers.fal.mapping import (
    FalJobError,
    FalModel,
    arguments,
    estimate,
    mime_type,
    output_files,
    output_kind,
    output_text,
    status_of,
    usage,
)
from provider_servers.remote import (
    DATA_URL_MAX_BYTES,
    RemoteProvider,
    Vendor,
    VendorHttp,
    asset_body,
    data_url,
    file_name,
    input_characters,
    vendor_error,
)
from provider_servers.remote.model_config import parse_setting
from provider_servers.sdk import (
    Capability,
    Event,
    Health,
    InputAsset,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Usage,
)

__all__ = ["FAL", "FalProvider"]

log = logging.getLogger(__name__)

FAL = Vendor(
    name="fal",
    key_env="FAL_KEY",
    base_url_env="FAL_BASE_URL",
    default_base_url="https://queue.fal.run",
    auth_scheme="Key",
)
# fal's other two hosts: storage uploads (rest.fal.ai) and the platform API (api.fal.ai).
REST_URL_ENV, DEFAULT_REST_URL = "FAL_REST_URL", "https://rest.fal.ai"
API_URL_ENV, DEFAULT_API_URL = "FAL_API_URL", "https://api.fal.ai/v1"
MODELS_ENV = "PRIZM_FAL_MODELS"
_OWN_SETTINGS = ("models", "rest_url", "api_url")
# How often the queue status is read: fal_client polls every 0.1 s; a little slower is kinder.
_POLL_S = 0.25
_CANCEL_TIMEOUT_S = 5.0
# fal's app namespaces: an endpoint id under one has three parts before its subpath.
_NAMESPACES = ("workflows", "comfy")


def _app(endpoint: str) -> str:
    """The app part of an endpoint id, where its requests live: `fal-ai/flux/schnell` -> `fal-ai/flux`
    (fal's docs: a subpath is used to submit, not for status, result or cancel); an app under a
    namespace keeps it (`workflows/owner/app`), as fal_client's `AppId` does."""
    parts = endpoint.split("/")
    return "/".join(parts[: 3 if parts[0] in _NAMESPACES else 2])


def _checked_url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        raise invalid_argument([(f"settings.{name}", "must be an http:// or https:// URL")])
    return value


class FalProvider(RemoteProvider):
    """fal's queue API: submit, poll status with logs, fetch the result, download its files.

    Its models are a few well-known endpoints built in, those declared in the YAML or JSON list
    at `PRIZM_FAL_MODELS` (or given as the `models` setting), and any other fal endpoint id named
    in a job, whose options then go to fal unchecked.
    """

    id = "fal"
    display_name = "fal"
    version = __version__
    description = "Generative media models hosted by fal (fal.ai), through its queue API."
    vendor: ClassVar[Vendor] = FAL
    health_path: ClassVar[str] = "models?limit=1"
    runs_unlisted_models: ClassVar[bool] = True

    def __init__(
        self,
        api_key: str,
        base_url: str = "",
        *,
        rest_url: str = "",
        api_url: str = "",
        declared: Sequence[FalModel] = (),
    ) -> None:
        super().__init__(api_key, base_url)
        self.rest_url = _checked_url("rest_url", rest_url or DEFAULT_REST_URL)
        self.api_url = _checked_url("api_url", api_url or DEFAULT_API_URL)
        self._models = {model.spec.id: model for model in (*BUILT_IN, *declared)}
        self._rest: VendorHttp | None = None
        self._platform: VendorHttp | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """The key, three base URLs (`FAL_BASE_URL`, `FAL_REST_URL`, `FAL_API_URL`) and the models
        file (`PRIZM_FAL_MODELS`) from `environ`.

        Raises:
            ModelsConfigError: the models file cannot be read or is invalid.
        """
        path = environ.get(MODELS_ENV, "")
        return cls(
            environ.get(FAL.key_env, ""),
            environ.get(FAL.base_url_env, ""),
            rest_url=environ.get(REST_URL_ENV, ""),
            api_url=environ.get(API_URL_ENV, ""),
            declared=load_models(Path(path)) if path else (),
        )

    def models(self) -> Sequence[ModelSpec]:
        """Built-in and declared models."""
        return [model.spec for model in self._models.values()]

    def _client(self, base_url: str) -> VendorHttp:
        return VendorHttp(self.vendor, self.api_key, base_url)

    @property
    def rest(self) -> VendorHttp:
        """fal's REST host (storage uploads)."""
        if self._rest is None:
            self._rest = self._client(self.rest_url)
        return self._rest

    @property
    def platform(self) -> VendorHttp:
        """fal's platform API (the model list that health asks)."""
        if self._platform is None:
            self._platform = self._client(self.api_url)
        return self._platform

    async def close(self) -> None:
        """Closes the clients of all three hosts."""
        for client in (self._rest, self._platform):
            if client is not None:
                await client.aclose()
        self._rest = self._platform = None
        await super().close()

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Applies `models` (a YAML or JSON list, as in `PRIZM_FAL_MODELS`), `rest_url` and `api_url`,
        then `api_key` and `base_url` as every remote provider does.

        Raises:
            PrizmError: INVALID_ARGUMENT for an invalid models list or setting.
        """
        own = {name: value for name, value in settings.items() if name in _OWN_SETTINGS}
        declared = parse_setting(own["models"], parse_models) if "models" in own else None
        for name in ("rest_url", "api_url"):
            if name in own:
                _checked_url(name, own[name])
        applied = super().configure({k: v for k, v in settings.items() if k not in _OWN_SETTINGS})
        self.rest_url, self.api_url = own.get("rest_url", self.rest_url), own.get("api_url", self.api_url)
        for client, url in ((self._rest, self.rest_url), (self._platform, self.api_url)):
            if client is not None:
                client.reconfigure(self.api_key, url)
        if declared is not None:
            self._models = {model.spec.id: model for model in (*BUILT_IN, *declared)}
        return sorted([*applied, *own])

    async def check_health(self) -> Health:
        """Lists one model on fal's platform API: free, and it checks the key."""
        try:
            await self.platform.request("GET", self.health_path, paid=False, retries=0, timeout=10.0)
        except PrizmError as exc:
            return Health(False, f"{exc.reason}: {exc.message}")
        return Health(True, f"fal answers at {self.platform.base_url.host}")

    def model_named(
        self, model_id: str, capability: Capability, options: Mapping[str, object]
    ) -> ModelSpec | None:
        """Any fal endpoint id (`owner/app[/path]`) not declared: its options go to fal unchecked."""
        if not re.fullmatch(ENDPOINT_ID, model_id):
            return None
        return passthrough(model_id, capability, options).spec

    def fal_model(self, job: Job) -> FalModel:
        """The job's model: declared, or an undeclared fal endpoint passed through."""
        return self._models.get(job.model.id) or passthrough(job.model.id, job.capability, job.options)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """The job's work in the units its model is priced in."""
        return estimate(self.fal_model(job), job.options, input_characters(job))

    async def _upload(self, asset: InputAsset) -> str:
        """A URL fal can read the input at: a data URI up to 1 MB, as fal documents for files,
        else a file in fal storage (initiate the upload, then PUT the bytes, as fal_client does)."""
        if asset.size_bytes <= DATA_URL_MAX_BYTES:
            return data_url(asset)
        mime = asset.mime_type.split(";")[0].strip() or "application/octet-stream"
        initiated = await self.rest.request(
            "POST",
            "storage/upload/initiate",
            params={"storage_type": "gcs"},
            json={"file_name": file_name(asset), "content_type": mime},
            paid=False,
        )
        target = self._fields(initiated, "upload_url", "file_url", accepted=False)
        await self.rest.request(
            "PUT", target["upload_url"], content=asset_body(asset), headers={"Content-Type": mime}
        )
        return str(target["file_url"])

    @staticmethod
    def _fields(response: httpx.Response, *names: str, accepted: bool) -> dict[str, Any]:
        """A response's JSON object, with `names` present as strings; a vendor error otherwise
        (after acceptance: the job failed, it may have been billed)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(name), str) for name in names):
            missing = ", ".join(names) or "a JSON object"
            raise vendor_error(None, f"fal answered without {missing}", accepted=accepted, vendor=FAL.name)
        return body

    def _failed(self, message: str) -> PrizmError:
        return vendor_error(None, self.http.scrub(message), accepted=True, vendor=FAL.name)

    async def _submit(self, model: FalModel, job: Job) -> str:
        """Queues the request (sent once: a retry could pay twice) and returns its id."""
        texts = [asset.text() for asset in job.inputs if asset.kind == MediaKind.TEXT]
        urls = [await self._upload(asset) for asset in job.inputs if asset.kind != MediaKind.TEXT]
        body = arguments(model, [asset.kind for asset in job.inputs], texts, urls, job.options)
        response = await self.http.request("POST", model.spec.id, json=body, paid=True)
        return str(self._fields(response, "request_id", accepted=True)["request_id"])

    async def _poll(self, app: str, request_id: str) -> AsyncIterator[Event]:
        """Progress from the status until the request completes."""
        seen = 0
        while True:
            response = await self.http.request(
                "GET", f"{app}/requests/{request_id}/status", params={"logs": "1"}, paid=False, accepted=True
            )
            try:
                status = status_of(self._fields(response, "status", accepted=True), seen)
            except FalJobError as exc:
                raise self._failed(str(exc)) from None
            seen = status.logs_seen
            # A runner's log is the vendor's text: scrubbed like its error messages.
            yield dataclasses.replace(status.progress, logs=tuple(map(self.http.scrub, status.progress.logs)))
            if status.completed:
                return
            await asyncio.sleep(_POLL_S)

    async def _cancel(self, app: str, request_id: str) -> None:
        """Asks fal to cancel the request; a failure is logged, the job is cancelled here anyway."""
        try:
            await self.http.request(
                "PUT", f"{app}/requests/{request_id}/cancel", paid=False, timeout=_CANCEL_TIMEOUT_S
            )
        except PrizmError as exc:
            log.warning("fal request %s not cancelled: %s", request_id, exc.message)

    async def _result(self, app: str, request_id: str) -> dict[str, Any]:
        try:
            response = await self.http.request(
                "GET", f"{app}/requests/{request_id}", paid=False, accepted=True
            )
        except PrizmError as exc:
            raise self._failed(exc.message) from None
        return self._fields(response, accepted=True)

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Submits, relays queue position, logs and percentages, then the outputs and the usage."""
        model = self.fal_model(job)
        app = _app(model.spec.id)
        request_id = await self._submit(model, job)
        log.info("job %s is fal request %s", job.id, request_id)
        finished = False
        try:
            async for progress in self._poll(app, request_id):
                yield progress
            finished = True
            result = await self._result(app, request_id)
        finally:
            if not finished:
                # Cancelled here, or the status could not be read: fal's runner must not go on.
                await asyncio.shield(self._cancel(app, request_id))
        for output in self._outputs(model, job, result):
            yield output
        amounts = usage(model, result, job.options)
        if amounts:
            yield Usage(amounts)

    def _outputs(self, model: FalModel, job: Job, result: Mapping[str, object]) -> list[Output]:
        kind = output_kind(job.capability)
        if kind == MediaKind.TEXT:
            text = output_text(model, result)
            if text is None:
                raise self._failed("the result holds no text")
            return [Output(kind, "text/plain; charset=utf-8", text.encode("utf-8"))]
        files = output_files(model, result)
        if not files:
            raise self._failed("the result holds no file")
        return [
            Output(kind, mime_type(model, found, job.options), self._content(found.url)) for found in files
        ]

    def _content(self, url: str) -> bytes | AsyncIterator[bytes]:
        """A file's bytes: decoded from a data URI, else downloaded in chunks as they are relayed."""
        if url.startswith("data:"):
            return base64.b64decode(url.split(",", 1)[1])
        return self.http.download(url)
