"""The Cog provider: one model served by a Cog HTTP server, its options from the server's schema."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ClassVar, Self

import grpc

from prizm_core.capabilities import capability_by_name, capability_info
from provider_servers.cog.outputs import OutputReader, output_items
from provider_servers.cog.predictions import CogClient, ProgressRelay
from provider_servers.cog.schema import CogSchema, parse_schema
from provider_servers.remote import DATA_URL_MAX_BYTES, data_url, vendor_error
from provider_servers.replicate.mapping import Prediction
from provider_servers.sdk import (
    Capability,
    Event,
    Health,
    InputAsset,
    Job,
    JobState,
    MediaKind,
    ModelSpec,
    Output,
    PrizmError,
    Progress,
    Provider,
    ProviderKind,
    Reason,
)

if TYPE_CHECKING:
    from provider_servers.cog.webhook import WebhookReceiver

__all__ = ["CogProvider"]

log = logging.getLogger(__name__)

URL_ENV = "PRIZM_COG_URL"
ID_ENV = "PRIZM_COG_ID"
SERVICE_URL_ENV = "PRIZM_SERVICE_URL"
CAPABILITIES_ENV = "PRIZM_COG_CAPABILITIES"
MODEL_ENV = "PRIZM_COG_MODEL"
INPUT_FIELD_ENV = "PRIZM_COG_INPUT_FIELD"
OUTPUT_MIME_ENV = "PRIZM_COG_OUTPUT_MIME"
# How long `warm_up` waits for a server that does not answer yet (it may be starting).
REACH_TIMEOUT_S = 60.0
_SETUP_LOG_TAIL = 400
_MIME_RANGES = {
    MediaKind.IMAGE: "image/*",
    MediaKind.AUDIO: "audio/*",
    MediaKind.VIDEO: "video/*",
    MediaKind.MODEL_3D: "model/*",
}


class CogProvider(Provider):
    """One model served by a Cog HTTP server (`python -m cog.server.http`, or a Cog image's container).

    Its options are the inputs of the server's OpenAPI schema (`/openapi.json`): types, defaults,
    bounds, choices, descriptions. A job's text goes to the first required string input (or
    `prompt`/`text`), its file to the first `format: uri` input, as a data URI or, when large, a
    URL of the provider's own receiver. Predictions run asynchronously: the server reports each by
    webhook to that receiver (loopback, an ephemeral port), and is asked to cancel one whose job is
    cancelled. Without a schema the model says so and its options pass through unchecked.
    """

    id = "cog"
    display_name = "Cog"
    kind = ProviderKind.LOCAL
    description = "One model served by a Cog HTTP server, with the options its OpenAPI schema declares."
    # A Cog server runs one prediction at a time unless its model is `@cog.concurrent`.
    max_concurrent_jobs: ClassVar[int] = 1
    health_interval_s: ClassVar[float] = 0.5

    def __init__(
        self,
        base_url: str,
        provider_id: str = "cog",
        model_id: str | None = None,
        capabilities: Sequence[Capability] = (),
        *,
        input_field: str = "",
        output_mime_type: str = "",
    ) -> None:
        """Builds the provider; nothing is sent until `warm_up`.

        Args:
            base_url: The Cog server's URL, e.g. `http://127.0.0.1:5000`.
            provider_id: The provider's id.
            model_id: The model's id; the provider's id when None.
            capabilities: What the model does; when empty, text-to-text if its schema says it
                takes and returns text.
            input_field: The input a job's input goes to when the server has no schema (default
                `prompt` for text, else the media kind: `image`, `audio`, `video`).
            output_mime_type: What the model makes, e.g. `audio/wav` (a schema does not say);
                when empty `text/plain` for text, else the kind's range, e.g. `audio/*`. An output
                that says its own type (a data URI) keeps it.
        """
        self.id = provider_id
        self.model_id = model_id or provider_id
        self.wanted = tuple(capabilities)
        self.input_field = input_field
        self.output_mime_type = output_mime_type
        self.client = CogClient(base_url, provider_id)
        self._schema: CogSchema | None = None
        self._spec = self._model_spec(None, {}, read=False)
        self._receiver: WebhookReceiver | None = None

    @property
    def receiver(self) -> WebhookReceiver:
        """The webhook receiver, one per provider, made on first use (`aiohttp` is the `cog` extra's)."""
        if self._receiver is None:
            from provider_servers.cog.webhook import WebhookReceiver  # noqa: PLC0415

            self._receiver = WebhookReceiver()
        return self._receiver

    @classmethod
    def missing(cls) -> list[str]:
        """The server's URL when it is not set, and the `cog` extra (aiohttp, for the webhook
        receiver) when it is not installed: the harness then refuses to start, with these hints."""
        found = []
        if not (os.environ.get(URL_ENV) or os.environ.get(SERVICE_URL_ENV)):
            found.append(f"set {URL_ENV} to a Cog server's URL, e.g. http://127.0.0.1:5000")
        if importlib.util.find_spec("aiohttp") is None:
            found.append("pip install 'prizm[cog]' (aiohttp)")
        return found

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """`PRIZM_COG_URL` (or `PRIZM_SERVICE_URL`, set for a container service), `PRIZM_COG_ID` (the
        provider's id, `cog` by default), the capabilities as CLI names in `PRIZM_COG_CAPABILITIES`
        (comma-separated), `PRIZM_COG_MODEL`, `PRIZM_COG_INPUT_FIELD` and `PRIZM_COG_OUTPUT_MIME`.

        Raises:
            ValueError: A capability name is unknown.
        """
        # Unset, `missing()` keeps the provider from serving; built all the same, it lists no model.
        url = environ.get(URL_ENV) or environ.get(SERVICE_URL_ENV, "")
        names = [n for n in environ.get(CAPABILITIES_ENV, "").split(",") if n.strip()]
        try:
            wanted = [Capability(capability_by_name(name).value) for name in names]
        except KeyError as exc:
            raise ValueError(f"{CAPABILITIES_ENV}: unknown capability {exc}") from None
        return cls(
            url,
            environ.get(ID_ENV) or "cog",
            model_id=environ.get(MODEL_ENV) or None,
            capabilities=wanted,
            input_field=environ.get(INPUT_FIELD_ENV, ""),
            output_mime_type=environ.get(OUTPUT_MIME_ENV, ""),
        )

    def models(self) -> Sequence[ModelSpec]:
        """The one model, as the last `refresh` read it (before, as its capabilities say: none if unset)."""
        return [self._spec] if self._spec.capabilities else []

    async def warm_up(self) -> None:
        """Starts the webhook receiver and reads the schema, waiting for the server to answer."""
        await self.receiver.start()
        deadline = time.monotonic() + REACH_TIMEOUT_S
        while True:
            try:
                await self.refresh()
                return
            except PrizmError as exc:
                if exc.reason != Reason.UPSTREAM_UNAVAILABLE or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        """Stops the receiver and closes the connections."""
        if self._receiver is not None:
            await self._receiver.close()
        await self.client.close()

    async def refresh(self) -> None:
        """Reads `/openapi.json` again into the model; safe to call again, e.g. after the server
        restarts with a new image.

        Raises:
            PrizmError: UNAVAILABLE `UPSTREAM_UNAVAILABLE` when the server cannot be reached;
                UNAVAILABLE `SERVICE_FAILED` when its schema cannot be read, does not say what the
                model does, or has no input for what its capabilities take.
        """
        document = await self.client.openapi()
        try:
            schema = parse_schema(document) if document is not None else None
        except ValueError as exc:
            raise _service_failed(f"{self.id}: the Cog server's schema cannot be read: {exc}") from None
        spec = self._model_spec(schema, document.get("info", {}) if document else {})
        _check_fits(self.id, spec, schema)
        self._spec, self._schema = spec, schema

    def _model_spec(
        self, schema: CogSchema | None, info: Mapping[str, Any], *, read: bool = True
    ) -> ModelSpec:
        """The model as its schema describes it (or, without one, as taking any option); before the
        schema is `read`, a model with no options yet."""
        if not read:
            notes = "Its options come from the Cog server's OpenAPI schema, read at warm-up."
        elif schema is None:
            notes = (
                "The Cog server has no OpenAPI schema (.cog/openapi_schema.json, which `cog build` "
                "writes): its options are passed through unvalidated."
            )
        else:
            skipped = (
                f" Inputs it cannot take as options: {'; '.join(schema.skipped)}." if schema.skipped else ""
            )
            notes = f"Options from the Cog server's OpenAPI schema.{skipped}"
        title = str(info.get("title") or "")
        about = str(info.get("description") or "")
        capabilities = self.wanted or _inferred(schema)
        return ModelSpec(
            id=self.model_id,
            display_name=title if title and title != "Cog" else f"{self.model_id} (Cog)",
            description=" ".join(part for part in (about, notes) if part),
            capabilities=capabilities,
            output_mime_type=self.output_mime_type or _mime_range(capabilities),
            parameters=schema.params if schema is not None else (),
            unchecked_options=read and schema is None,
        )

    async def check_health(self) -> Health:
        """`/health-check`: READY and BUSY serve; STARTING does not yet; SETUP_FAILED and DEFUNCT do
        not, with the tail of the setup logs."""
        try:
            body = await self.client.health()
        except PrizmError as exc:
            return Health(False, f"the Cog server does not answer: {exc.message}")
        status = str(body.get("status", ""))
        if status == "READY":
            return Health(True, "ready")
        if status == "BUSY":
            return Health(True, "busy: every prediction slot is in use")
        if status == "STARTING":
            return Health(False, "starting: the model's setup is running")
        setup = body.get("setup")
        logs = str(setup.get("logs", "")) if isinstance(setup, dict) else ""
        detail = str(body.get("user_healthcheck_error") or logs.strip()[-_SETUP_LOG_TAIL:])
        return Health(False, f"{status or 'unknown status'}: {detail}".rstrip(": "))

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Runs the prediction, relaying its logs as progress and its outputs as they come."""
        return self._run(job)

    async def _run(self, job: Job) -> AsyncIterator[Event]:
        prediction_id = f"prizm-{secrets.token_hex(8)}"
        reader = OutputReader(
            MediaKind(capability_info(job.capability).output_kind), job.model.output_mime_type
        )
        relay = ProgressRelay(
            stream=self._schema is not None and self._schema.iterator and not reader.text_kind
        )
        ended: Prediction | None = None
        await self.receiver.start()  # started at warm-up; a wrapper may have called only `refresh`
        with ExitStack() as stack:
            queue = stack.enter_context(self.receiver.prediction(prediction_id))
            inputs = {**job.options, self._field(job.inputs[0]): self._input_value(job, stack)}
            await self.client.submit(
                prediction_id, inputs, self.receiver.url(f"/predictions/{prediction_id}")
            )
            yield Progress(stage="starting", state=JobState.STARTING)
            try:
                async for prediction in self.client.follow(queue):
                    for event in relay.events(prediction):
                        yield event if isinstance(event, Progress) else self._file(reader, event)
                    ended = prediction if prediction.finished else None
            finally:
                if ended is None:
                    await self.client.settle(prediction_id, queue)
        if ended is None or ended.status != "succeeded":
            raise self._failed(prediction_id, ended)
        if reader.text_kind:
            yield self._read(reader.text, ended.output)
            return
        for item in output_items(ended.output)[relay.emitted :]:
            yield self._file(reader, item)

    def _field(self, asset: InputAsset) -> str:
        """The input the job's input goes to: the schema's, else the configured or usual name."""
        text = asset.kind == MediaKind.TEXT
        if self._schema is not None:
            name = self._schema.text_field if text else self._schema.file_field
            if name:
                return name
            raise _service_failed(f"{self.id}: the model's schema has no input for {asset.kind.name.lower()}")
        return self.input_field or ("prompt" if text else asset.kind.name.lower())

    def _input_value(self, job: Job, stack: ExitStack) -> str:
        """Text as it is; a file as a data URI, or when large a URL the server (on this host) fetches."""
        asset = job.inputs[0]
        if asset.kind == MediaKind.TEXT:
            return asset.text()
        if asset.size_bytes <= DATA_URL_MAX_BYTES:
            return data_url(asset)
        return stack.enter_context(self.receiver.lend(asset.file(job.workdir, "input")))

    def _failed(self, prediction_id: str, ended: Prediction | None) -> PrizmError:
        """The job's failure: the prediction's error, or how it ended."""
        status = ended.status if ended is not None else "lost"
        words = ended.error if ended is not None and ended.error else f"prediction {prediction_id} {status}"
        return vendor_error(None, words, accepted=True, vendor=self.id)

    def _file(self, reader: OutputReader, item: object) -> Event:
        return self._read(reader.file, item)

    def _read(self, read: Callable[[object], Output], value: object) -> Output:
        """What `read` makes of an output; one it cannot read is the job's failure."""
        try:
            return read(value)
        except ValueError as exc:
            raise vendor_error(None, str(exc), accepted=True, vendor=self.id) from None


def _inferred(schema: CogSchema | None) -> tuple[Capability, ...]:
    """Text-to-text for a model that takes text and returns plain text; otherwise nothing is known."""
    return (
        (Capability.TEXT_TO_TEXT,) if schema is not None and schema.text_field and schema.text_output else ()
    )


def _check_fits(provider_id: str, spec: ModelSpec, schema: CogSchema | None) -> None:
    """Raises unless the model says what it does and its schema has an input for what that takes."""
    if not spec.capabilities:
        raise _service_failed(
            f"{provider_id}: say what the model does ({CAPABILITIES_ENV}, e.g. text-to-image): "
            "its schema does not tell"
        )
    if schema is None:
        return  # without a schema any input name may do: the configured one is used
    for capability in spec.capabilities:
        info = capability_info(capability)
        kind = MediaKind(info.input_kind)
        if not (schema.text_field if kind == MediaKind.TEXT else schema.file_field):
            raise _service_failed(
                f"{provider_id}: the model's schema has no input for {info.name}'s {kind.name.lower()}"
            )


def _mime_range(capabilities: Sequence[Capability]) -> str:
    """What the model makes, as far as its capability tells: `text/plain`, or e.g. `audio/*`."""
    if not capabilities:
        return ""
    kind = MediaKind(capability_info(capabilities[0]).output_kind)
    return "text/plain" if kind == MediaKind.TEXT else _MIME_RANGES[kind]


def _service_failed(message: str) -> PrizmError:
    """The model behind the server cannot be used as it is set up (UNAVAILABLE `SERVICE_FAILED`)."""
    return PrizmError(grpc.StatusCode.UNAVAILABLE, Reason.SERVICE_FAILED, message)
