"""The Replicate provider: predictions created, waited for, polled, cancelled and their files relayed."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import mimetypes
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from prizm_core.capabilities import capability_info
from provider_servers.remote import RemoteProvider, Vendor, vendor_error
from provider_servers.remote.model_config import parse_setting
from provider_servers.remote.uploads import DATA_URL_MAX_BYTES, data_url, multipart_file
from provider_servers.replicate.catalog import MODELS_ENV, load_models, parse_models
from provider_servers.replicate.mapping import (
    ModelRef,
    Prediction,
    create_body,
    log_lines,
    output_items,
    output_text,
    parse_data_url,
    parse_model_ref,
    parse_prediction,
    progress_fraction,
    stream_event,
)
from provider_servers.replicate.models import DECLARED, ReplicateModel, unlisted
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    JobState,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    PrizmError,
    Progress,
    Usage,
)

__all__ = ["REPLICATE", "ReplicateProvider"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

REPLICATE = Vendor(
    name="replicate",
    key_env="REPLICATE_API_TOKEN",
    base_url_env="REPLICATE_BASE_URL",
    default_base_url="https://api.replicate.com",
)
# `Prefer: wait=N`: Replicate holds the creating request up to N seconds (at most 60) and answers with
# the finished prediction when the model is quick, so a short job needs no poll at all.
WAIT_S = 10
POLL_S = 0.5
POLL_ENV = "REPLICATE_POLL_INTERVAL"
MIN_POLL_S, MAX_POLL_S = 0.05, 60.0
CANCEL_TIMEOUT_S = 5.0


class ReplicateProvider(RemoteProvider):
    """Models hosted on Replicate, run as predictions through its HTTP API (`/v1/predictions`).

    Its models are a few well-known ones built in, those declared in the YAML or JSON list at
    `PRIZM_REPLICATE_MODELS` (or given as the `models` setting), and any other Replicate model
    named by its reference in a job, whose options then go to Replicate unchecked.
    """

    id = "replicate"
    display_name = "Replicate"
    description = (
        "Models hosted on Replicate, run as predictions: pictures, upscaling, speech, a streamed language "
        "model, any other Replicate model by name, and those declared in config."
    )
    vendor = REPLICATE
    # Free: the account the token belongs to. A bad token answers 401 here as on a prediction.
    health_path = "/v1/account"
    runs_unlisted_models: ClassVar[bool] = True

    def __init__(
        self,
        api_key: str,
        base_url: str = "",
        *,
        declared: Sequence[ReplicateModel] = (),
        poll_s: float = POLL_S,
    ) -> None:
        """Builds the provider; nothing is sent until `warm_up`.

        Args:
            api_key: The Replicate API token.
            base_url: The API's base URL; `https://api.replicate.com` when empty.
            declared: Models declared in config, after the built-in ones.
            poll_s: Seconds between polls of a running prediction.

        Raises:
            ValueError: `poll_s` is not from 0.05 to 60.
        """
        super().__init__(api_key, base_url)
        if not MIN_POLL_S <= poll_s <= MAX_POLL_S:
            raise ValueError(f"{POLL_ENV} must be from {MIN_POLL_S} to {MAX_POLL_S} seconds")
        self.poll_s = poll_s
        self._models = _by_id(declared)

    @classmethod
    def missing(cls) -> list[str]:
        """The token's variable when it is unset, and the `replicate` extra when not installed."""
        extra = (
            [] if importlib.util.find_spec("httpx_sse") else ["pip install 'prizm[replicate]' (httpx-sse)"]
        )
        return [*super().missing(), *extra]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """The token and base URL, the models file (`PRIZM_REPLICATE_MODELS`) and the poll interval
        (`REPLICATE_POLL_INTERVAL`, which replicate-python reads too).

        Raises:
            ModelsConfigError: The models file cannot be read or is invalid.
            ValueError: The poll interval is not a number from 0.05 to 60.
        """
        path = environ.get(MODELS_ENV, "")
        try:
            poll_s = float(environ.get(POLL_ENV, POLL_S))
        except ValueError:
            raise ValueError(f"{POLL_ENV} must be a number of seconds") from None
        return cls(
            environ.get(REPLICATE.key_env, ""),
            environ.get(REPLICATE.base_url_env, ""),
            declared=load_models(Path(path)) if path else (),
            poll_s=poll_s,
        )

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Applies `models` (a YAML or JSON list, as in `PRIZM_REPLICATE_MODELS`), then `api_key`
        and `base_url` as every remote provider does.

        Raises:
            PrizmError: INVALID_ARGUMENT for an invalid models list or an unknown setting.
        """
        declared = parse_setting(settings["models"], parse_models) if "models" in settings else None
        applied = super().configure({k: v for k, v in settings.items() if k != "models"})
        if declared is not None:
            self._models = _by_id(declared)
        return sorted([*applied, *(["models"] if declared is not None else [])])

    def models(self) -> Sequence[ModelSpec]:
        """The built-in models, then those declared in config."""
        return [model.spec for model in self._models.values()]

    def model_named(
        self, model_id: str, capability: Capability, options: Mapping[str, object]
    ) -> ModelSpec | None:
        """Any Replicate model by reference (`owner/name`, `owner/name:version`,
        `deployments/owner/name`), not declared: its options go to Replicate unchecked."""
        try:
            parse_model_ref(model_id)
        except ValueError:
            return None
        return unlisted(model_id, capability, options).spec

    def replicate_model(self, job: Job) -> ReplicateModel:
        """The job's model: built in or declared, or a model named by reference passed through."""
        return self._models.get(job.model.id) or unlisted(job.model.id, job.capability, job.options)

    def check_inputs(self, job: Job) -> None:
        """The SDK's checks, then what the model's schema cannot say (a size in steps of 32)."""
        super().check_inputs(job)
        self.replicate_model(job).vendor_input("", job.options)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Images asked for, characters of text, or the model's typical seconds of compute."""
        units = job.model.prices
        if MediaUnit.OUTPUT_IMAGE in units:
            return {MediaUnit.OUTPUT_IMAGE: float(_int(job.options.get("num_outputs"), 1))}
        if MediaUnit.INPUT_CHARACTER in units:
            return {MediaUnit.INPUT_CHARACTER: float(sum(len(a.text()) for a in job.inputs))}
        if MediaUnit.OUTPUT_TOKEN in units:
            # About four characters a token in English: an estimate; the usage has Replicate's counts.
            read = sum(len(a.text()) for a in job.inputs) / 4
            return {
                MediaUnit.INPUT_TOKEN: read,
                MediaUnit.OUTPUT_TOKEN: float(_int(job.options.get("max_tokens"), 0)),
            }
        if MediaUnit.COMPUTE_SECOND in units:
            return {MediaUnit.COMPUTE_SECOND: self.replicate_model(job).typical_s}
        return {MediaUnit.REQUEST: 1.0}

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Creates the prediction, follows it to its end and relays its outputs and usage."""
        return self._run(job, self.replicate_model(job))

    async def _run(self, job: Job, model: ReplicateModel) -> AsyncIterator[Event]:
        ref = parse_model_ref(model.reference)
        inputs = model.vendor_input(await self._input_value(job), job.options)
        prediction = await self._create(ref, inputs, stream=model.stream)
        streamed = model.stream and not prediction.finished and "stream" in prediction.urls
        try:
            async for progress in self._stream(prediction, job) if streamed else self._follow(prediction):
                if isinstance(progress, Prediction):
                    prediction = progress
                else:
                    yield progress
        finally:
            if not prediction.finished:
                await self._cancel(prediction)
        for output in self._outputs(job, model, prediction):
            yield output
        yield Usage(_usage(job, prediction))

    async def _input_value(self, job: Job) -> str:
        """The job's input as the model takes it: text as it is, a file as a data URL or an upload."""
        asset = job.inputs[0]
        if asset.kind == MediaKind.TEXT:
            return asset.text()
        if asset.size_bytes <= DATA_URL_MAX_BYTES:
            return data_url(asset)
        return await self._upload(asset)

    async def _upload(self, asset: InputAsset) -> str:
        """Uploads a large input with `POST /v1/files`; returns the URL a prediction takes."""
        name, content, mime = multipart_file(asset)
        try:
            response = await self.http.request("POST", "/v1/files", files={"content": (name, content, mime)})
        finally:
            if not isinstance(content, bytes):
                content.close()
        url = _json(response.json()).get("urls", {}).get("get")
        if not isinstance(url, str):
            raise vendor_error(502, "the file upload answered without a URL", vendor=REPLICATE.name)
        return url

    async def _create(self, ref: ModelRef, inputs: Mapping[str, Any], *, stream: bool) -> Prediction:
        """Creates the prediction, waiting up to `WAIT_S` for it; sent once, never retried."""
        response = await self.http.request(
            "POST",
            ref.create_path,
            json=create_body(ref, inputs, stream=stream),
            headers={"Prefer": f"wait={WAIT_S}"},
            timeout=WAIT_S + 10.0,
        )
        prediction = _prediction(response.json(), accepted=True)
        log.info("replicate prediction %s created (%s)", prediction.id, prediction.status)
        return prediction

    async def _follow(self, prediction: Prediction) -> AsyncIterator[Progress | Prediction]:
        """Polls until the prediction ends, yielding progress when it changes and each new state."""
        seen, fraction, status = "", None, ""
        while True:
            lines = log_lines(seen, prediction.logs)
            current = progress_fraction(prediction.logs)
            if lines or current != fraction or prediction.status != status:
                state = JobState.STARTING if prediction.status == "starting" else JobState.RUNNING
                yield Progress(fraction=current, stage=prediction.status, state=state, logs=lines)
            seen, fraction, status = prediction.logs, current, prediction.status
            if prediction.finished:
                _check_succeeded(prediction, self.http.scrub)
                return
            await asyncio.sleep(self.poll_s)
            url = prediction.urls.get("get") or f"/v1/predictions/{prediction.id}"
            response = await self.http.request("GET", url, paid=False, accepted=True)
            prediction = _prediction(response.json(), accepted=True)
            yield prediction

    async def _stream(self, prediction: Prediction, job: Job) -> AsyncIterator[Progress | Prediction]:
        """Relays a language model's text and log lines from its stream as they come, then follows
        the prediction to its end (its final output, metrics or error)."""
        # A piece is about a token: its share of the token budget is a floor of the progress.
        budget, pieces = _int(job.options.get("max_tokens"), 0), 0
        # The `replicate` extra's; `missing()` names it when it is not installed.
        from httpx_sse import EventSource  # noqa: PLC0415

        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        url = prediction.urls["stream"]
        async with self.http.stream("GET", url, headers=headers, paid=False, accepted=True) as response:
            async for sse in EventSource(response).aiter_sse():
                event = stream_event(sse.event, sse.data)
                if event.kind == "output":
                    pieces += 1
                    fraction = min(pieces / budget, 0.99) if budget else None
                    yield Progress(fraction=fraction, stage="generate", message=event.text)
                elif event.kind == "logs":
                    yield Progress(stage="processing", logs=tuple(log_lines("", event.text)))
                elif event.kind in ("done", "error"):
                    break
        url = prediction.urls.get("get") or f"/v1/predictions/{prediction.id}"
        latest = _prediction(
            (await self.http.request("GET", url, paid=False, accepted=True)).json(), accepted=True
        )
        yield latest
        async for item in self._follow(latest):
            yield item

    async def _cancel(self, prediction: Prediction) -> None:
        """Cancels the prediction upstream so that it stops costing money; a failure is only logged."""
        url = prediction.urls.get("cancel") or f"/v1/predictions/{prediction.id}/cancel"
        try:
            await asyncio.wait_for(
                self.http.request("POST", url, paid=False, accepted=True), CANCEL_TIMEOUT_S
            )
            log.info("replicate prediction %s cancelled", prediction.id)
        except (PrizmError, TimeoutError) as exc:
            log.warning("replicate prediction %s: cancel failed: %s", prediction.id, exc)

    def _outputs(self, job: Job, model: ReplicateModel, prediction: Prediction) -> list[Output]:
        """The prediction's outputs: text as it is, files downloaded as they are relayed."""
        kind = MediaKind(capability_info(job.capability).output_kind)
        if kind == MediaKind.TEXT:
            return [Output(kind, "text/plain", _checked(output_text, prediction, self.http.scrub).encode())]
        mime = model.output_mime_type(job.options)
        outputs = []
        for url in _checked(output_items, prediction, self.http.scrub):
            if url.startswith("data:"):
                inline = parse_data_url(url)
                outputs.append(Output(kind, inline.mime_type or mime, inline.data))
                continue
            guessed = mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
            outputs.append(Output(kind, mime or guessed, self.http.download(url)))
        return outputs


def _by_id(declared: Sequence[ReplicateModel]) -> dict[str, ReplicateModel]:
    """The built-in models and `declared`, by id; a declared model replaces a built-in one."""
    return {model.spec.id: model for model in (*DECLARED, *declared)}


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _json(body: object) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def _prediction(body: object, *, accepted: bool) -> Prediction:
    """A prediction from a response body; a body that is none is the vendor's failure."""
    try:
        return parse_prediction(body)
    except ValueError as exc:
        raise vendor_error(502, str(exc), accepted=accepted, vendor=REPLICATE.name) from None


def _check_succeeded(prediction: Prediction, scrub: Callable[[str], str]) -> None:
    """Raises the failure of a prediction that failed or was cancelled upstream, its words scrubbed."""
    if prediction.status == "succeeded":
        return
    words = scrub(prediction.error or f"prediction {prediction.id} was {prediction.status}")
    filtered = "nsfw" in words.lower() or "safety" in words.lower()
    raise vendor_error(None, words, accepted=True, content_filtered=filtered, vendor=REPLICATE.name)


def _checked(parse: Callable[[object], _T], prediction: Prediction, scrub: Callable[[str], str]) -> _T:
    """What `parse` makes of the output; an output it cannot read is the job's failure."""
    try:
        return parse(prediction.output)
    except ValueError as exc:
        raise vendor_error(None, scrub(str(exc)), accepted=True, vendor=REPLICATE.name) from None


def _usage(job: Job, prediction: Prediction) -> dict[MediaUnit, float]:
    """What the prediction actually used: Replicate's predict time, and the images it made."""
    usage: dict[MediaUnit, float] = {}
    if prediction.predict_time is not None:
        usage[MediaUnit.COMPUTE_SECOND] = prediction.predict_time
    if MediaUnit.OUTPUT_IMAGE in job.model.prices:
        usage[MediaUnit.OUTPUT_IMAGE] = float(len(output_items(prediction.output)))
    if prediction.input_tokens is not None:
        usage[MediaUnit.INPUT_TOKEN] = float(prediction.input_tokens)
    if prediction.output_tokens is not None:
        usage[MediaUnit.OUTPUT_TOKEN] = float(prediction.output_tokens)
    if MediaUnit.INPUT_CHARACTER in job.model.prices:
        usage[MediaUnit.INPUT_CHARACTER] = float(sum(len(a.text()) for a in job.inputs))
    return usage
