"""OpenAI: images, speech, transcription and chat through OpenAI's HTTP API, with the caller's key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from prizm_core.errors import Reason, invalid_argument
from provider_servers.openai import mapping
from provider_servers.openai.fake_media import png_size
from provider_servers.openai.models import AUDIO_EXTENSIONS, MODELS, PROMPT_LIMITS, SPEECH_FORMATS
from provider_servers.remote import (
    RemoteProvider,
    Vendor,
    VendorHttp,
    input_audio_seconds,
    multipart_file,
    vendor_error,
)
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Progress,
    Usage,
)

__all__ = ["OPENAI", "OpenAIProvider"]

OPENAI = Vendor(
    name="openai",
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
)
_RELAY_CHUNK = 256 * 1024
_SPEECH_CHARACTERS = 4096
_AUDIO_BYTES = 25 * 1024 * 1024  # /audio/transcriptions takes files up to 25 MB
_DALL_E_2_EDIT_BYTES = 4 * 1024 * 1024  # dall-e-2 edits a square PNG under 4 MB
_GPT_IMAGE_EDIT_BYTES = 50 * 1024 * 1024
_IMAGES = (Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE)


def _json(response: httpx.Response) -> Mapping[str, Any]:
    """A success response's JSON object; a body that is not one fails the (accepted) job."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise vendor_error(
            response.status_code, "OpenAI answered with no JSON object", accepted=True, vendor=OPENAI.name
        )
    return parsed


async def _body(response: httpx.Response, http: VendorHttp) -> AsyncIterator[bytes]:
    """A streamed response's body as it arrives; a broken transfer fails the (accepted) job."""
    try:
        async for chunk in response.aiter_bytes(_RELAY_CHUNK):
            yield chunk
    except httpx.HTTPError as exc:
        words = http.scrub(f"the transfer broke: {type(exc).__name__}")
        raise vendor_error(None, words, accepted=True, vendor=OPENAI.name) from None


class OpenAIProvider(RemoteProvider):
    """OpenAI's image, speech, transcription and chat models, called over HTTP with `httpx` through
    `VendorHttp` (one error mapping, retry policy and scrubbing for every remote provider)."""

    id = "openai"
    display_name = "OpenAI"
    description = "OpenAI's hosted API: GPT Image and DALL-E, text-to-speech, Whisper, chat completions."
    vendor = OPENAI
    health_path = "/models"  # lists the models: free, and refused with a bad key

    def models(self) -> Sequence[ModelSpec]:
        """Chat, image, speech and transcription models, each with its prices."""
        return list(MODELS)

    def check_inputs(self, job: Job) -> None:
        """Also refuses what OpenAI would refuse (sizes, lengths, option pairs) before any call."""
        super().check_inputs(job)
        asset = job.inputs[0]
        if job.capability in _IMAGES:
            mapping.check_image_options(job.model.id, job.options)
            if job.capability == Capability.IMAGE_TO_IMAGE:
                self._check_edit_image(job.model.id, asset)
            else:
                self._check_text(asset, PROMPT_LIMITS[job.model.id])
        elif job.capability == Capability.TEXT_TO_AUDIO:
            self._check_text(asset, _SPEECH_CHARACTERS)
        elif job.capability == Capability.AUDIO_TO_TEXT:
            if asset.size_bytes > _AUDIO_BYTES:
                raise invalid_argument(
                    [("inputs[0]", f"OpenAI takes audio up to {_AUDIO_BYTES} bytes")],
                    reason=Reason.INPUT_TOO_LARGE,
                )
            if job.options.get("language"):
                mapping.language_code(str(job.options["language"]))
            input_audio_seconds(job)
        else:
            self._check_text(asset, 0)

    def admit(self, job: Job) -> None:
        """Refuses an image edit without a prompt, before any call.

        Here rather than in `check_inputs`: the prompt is an option that only image-to-image
        requires, so ValidateInput of the model's inputs alone stays valid.
        """
        if job.capability == Capability.IMAGE_TO_IMAGE:
            mapping.check_edit_prompt(job.options)

    @staticmethod
    def _check_text(asset: InputAsset, limit: int) -> None:
        text = asset.text().strip()
        if not text:
            raise invalid_argument([("inputs[0].data", "text is empty")])
        if limit and len(text) > limit:
            raise invalid_argument(
                [("inputs[0].data", f"text is longer than {limit} characters")], reason=Reason.INPUT_TOO_LARGE
            )

    @staticmethod
    def _check_edit_image(model: str, asset: InputAsset) -> None:
        limit = _DALL_E_2_EDIT_BYTES if model == "dall-e-2" else _GPT_IMAGE_EDIT_BYTES
        if asset.size_bytes > limit:
            raise invalid_argument(
                [("inputs[0]", f"{model} edits images up to {limit} bytes")], reason=Reason.INPUT_TOO_LARGE
            )
        if model == "dall-e-2":
            try:
                width, height = png_size(asset.read()[:32])
            except ValueError:
                raise invalid_argument([("inputs[0].data", "dall-e-2 edits PNG pictures only")]) from None
            if width != height:
                raise invalid_argument(
                    [("inputs[0].data", f"dall-e-2 edits square pictures; this is {width}x{height}")]
                )

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Tokens for chat and GPT Image, images for DALL-E, characters for speech, seconds for Whisper."""
        asset = job.inputs[0]
        if job.capability in _IMAGES:
            prompt = (
                str(job.options.get("prompt", ""))
                if job.capability == Capability.IMAGE_TO_IMAGE
                else asset.text()
            )
            return mapping.image_units(job.model.id, prompt, job.options)
        if job.capability == Capability.TEXT_TO_AUDIO:
            return {MediaUnit.INPUT_CHARACTER: float(len(asset.text().strip()))}
        if job.capability == Capability.AUDIO_TO_TEXT:
            return {MediaUnit.INPUT_AUDIO_SECOND: input_audio_seconds(job)}
        text = asset.text() + str(job.options.get("system", ""))
        return {
            MediaUnit.INPUT_TOKEN: float(mapping.estimated_tokens(text)),
            MediaUnit.OUTPUT_TOKEN: float(job.options["max_completion_tokens"]),
        }

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Calls the endpoint of the job's capability.

        The first event comes only once OpenAI has answered: until then the caller has been told
        nothing, so a 5xx or a connection error lets the router run the job elsewhere.
        """
        if job.capability in _IMAGES:
            return self._image(job)
        if job.capability == Capability.TEXT_TO_AUDIO:
            return self._speech(job)
        if job.capability == Capability.AUDIO_TO_TEXT:
            return self._transcription(job)
        return self._chat(job)

    async def _post_form(
        self, path: str, fields: Mapping[str, str], name: str, asset: InputAsset, file_name: str
    ) -> httpx.Response:
        """A multipart POST with the input as the file `name` called `file_name` (OpenAI goes by its
        extension), streamed from disk when the input is a file."""
        _, content, mime = multipart_file(asset, name)
        try:
            return await self.http.request(
                "POST", path, data=fields, files={name: (file_name, content, mime)}
            )
        finally:
            if not isinstance(content, bytes):
                content.close()

    async def _image(self, job: Job) -> AsyncIterator[Event]:
        model, options = job.model.id, job.options
        picture = job.inputs[0]
        if job.capability == Capability.IMAGE_TO_IMAGE:
            response = await self._post_form(
                "/images/edits",
                mapping.edit_fields(model, options),
                "image",
                picture,
                f"image.{picture.mime_type.split('/')[-1]}",
            )
        else:
            body = mapping.generation_body(model, job.inputs[0].text().strip(), options)
            response = await self.http.request("POST", "/images/generations", json=body)
        answer = _json(response)
        result = mapping.image_results(answer)[0]
        if result.url:
            yield Progress(stage="download", message="fetching the image")
        data = result.data if result.data is not None else self.http.download(result.url)
        metadata = {"width": str(options["width"]), "height": str(options["height"])}
        yield Output(MediaKind.IMAGE, f"image/{options['format']}", data, metadata)
        yield Usage(mapping.image_usage(answer) or mapping.image_units(model, "", options))

    async def _speech(self, job: Job) -> AsyncIterator[Event]:
        text = job.inputs[0].text().strip()
        audio_format = str(job.options["format"])
        body = mapping.speech_body(job.model.id, text, job.options)
        async with self.http.stream("POST", "/audio/speech", json=body) as response:
            # The audio goes on as it arrives: the caller hears the start before OpenAI has finished.
            metadata = {"sample_rate": "24000", "channels": "1"} if audio_format == "pcm" else {}
            yield Output(MediaKind.AUDIO, SPEECH_FORMATS[audio_format], _body(response, self.http), metadata)
        yield Usage({MediaUnit.INPUT_CHARACTER: float(len(text))})

    async def _transcription(self, job: Job) -> AsyncIterator[Event]:
        fields = mapping.transcription_fields(job.model.id, job.options)
        asset = job.inputs[0]
        name = f"audio.{AUDIO_EXTENSIONS[asset.mime_type.split(';')[0].strip()]}"
        response = await self._post_form("/audio/transcriptions", fields, "file", asset, name)
        text, usage = mapping.transcription_result(_json(response))
        yield Output(MediaKind.TEXT, "text/plain", text.encode("utf-8"))
        yield Usage(usage or self.measure(job))

    async def _chat(self, job: Job) -> AsyncIterator[Event]:
        body = mapping.chat_body(job.model.id, job.inputs[0].text(), job.options)
        budget = int(job.options["max_completion_tokens"])
        if body.get("stream"):
            pieces: list[str] = []
            answer = mapping.ChatChunk()
            async with self.http.stream("POST", "/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    chunk = mapping.chat_chunk(line)
                    if chunk is None:
                        continue
                    answer = mapping.ChatChunk(
                        "", chunk.finish_reason or answer.finish_reason, chunk.usage or answer.usage
                    )
                    if chunk.text:
                        pieces.append(chunk.text)
                        # A delta is about a token: the share of the token budget is a floor of the progress.
                        yield Progress(
                            fraction=min(len(pieces) / budget, 0.99), stage="generate", message=chunk.text
                        )
            answer = mapping.ChatChunk("".join(pieces), answer.finish_reason, answer.usage)
        else:
            answer = mapping.chat_answer(
                _json(await self.http.request("POST", "/chat/completions", json=body))
            )
        if answer.finish_reason == "content_filter":
            raise vendor_error(
                200,
                "the answer was withheld by OpenAI's content filter",
                content_filtered=True,
                vendor=OPENAI.name,
            )
        yield Output(
            MediaKind.TEXT, "text/plain", answer.text.encode("utf-8"), {"finish_reason": answer.finish_reason}
        )
        yield Usage(answer.usage or self.measure(job))
