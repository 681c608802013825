"""ElevenLabs: hosted text to speech, the audio relayed as ElevenLabs streams it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import ClassVar

import httpx

from prizm_core.errors import PrizmError
from provider_servers.elevenlabs.mapping import Voice, model_specs, parse_voices, speech_request
from provider_servers.remote import RemoteProvider, Vendor, vendor_error
from provider_servers.remote.pricing import input_characters
from provider_servers.sdk import Event, Health, Job, MediaKind, MediaUnit, ModelSpec, Output, Progress, Usage

__all__ = ["VENDOR", "ElevenLabsProvider"]

log = logging.getLogger(__name__)

VENDOR = Vendor(
    name="elevenlabs",
    key_env="ELEVENLABS_API_KEY",
    base_url_env="ELEVENLABS_BASE_URL",
    default_base_url="https://api.elevenlabs.io",
    auth_header="xi-api-key",
    auth_scheme="",
)
# The header ElevenLabs bills a request's characters in (its API reference: "tracking generation costs").
_BILLED_CHARACTERS = "x-character-count"


class ElevenLabsProvider(RemoteProvider):
    """Text to speech with ElevenLabs: every voice of the account by name, the audio streamed."""

    id = "elevenlabs"
    display_name = "ElevenLabs"
    description = "Hosted text to speech (ElevenLabs API); needs ELEVENLABS_API_KEY. Audio streamed as made."
    vendor: ClassVar[Vendor] = VENDOR
    # The voice list is free, and tells whether the key works.
    health_path: ClassVar[str] = "/v1/voices"

    def __init__(self, api_key: str, base_url: str = "") -> None:
        super().__init__(api_key, base_url)
        self._voices: tuple[Voice, ...] = ()
        self._models = model_specs(())

    def models(self) -> Sequence[ModelSpec]:
        """The text-to-speech models, their `voice` choices the account's voices once listed."""
        return self._models

    async def _list_voices(self) -> None:
        """Reads the account's voices; they become the `voice` option's choices."""
        response = await self.http.request("GET", "/v1/voices", paid=False)
        try:
            voices = parse_voices(response.json())
        except ValueError as exc:
            raise vendor_error(502, f"unreadable voice list: {exc}", vendor=VENDOR.name) from None
        if voices != self._voices:
            self._voices, self._models = voices, model_specs(voices)
            log.info("elevenlabs: %d voice(s) listed", len(voices))

    async def warm_up(self) -> None:
        """Opens the client and lists the voices; a vendor that does not answer yet is left to the
        health checks, which list them once it does."""
        await super().warm_up()
        try:
            await self._list_voices()
        except PrizmError as exc:
            log.warning("elevenlabs: voices not listed yet: %s", exc.reason)

    async def check_health(self) -> Health:
        """The vendor's answer to `GET /v1/voices`; the voices are listed when they were not yet."""
        health = await super().check_health()
        if health.serving and not self._voices:
            try:
                await self._list_voices()
            except PrizmError as exc:
                return Health(False, f"{exc.reason}: {exc.message}")
        return health

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """Characters of text: what ElevenLabs bills."""
        return {MediaUnit.INPUT_CHARACTER: input_characters(job)}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Sends the text once (a paid call: never retried) and relays the audio as it arrives."""
        text = job.inputs[0].text()
        call = speech_request(job.model.id, text, job.options, self._voices)
        async with self.http.stream(
            "POST", call.path, params=call.params, json=call.body, headers={"accept": call.mime_type}
        ) as response:
            billed = response.headers.get(_BILLED_CHARACTERS, "")
            audio = self._audio(response)
            first = await anext(audio, b"")
            yield Progress(
                fraction=call.fraction(len(first)), stage="speak", message=f"{job.model.id} is speaking"
            )
            yield Output(kind=MediaKind.AUDIO, mime_type=call.mime_type, data=_joined(first, audio))
        characters = float(billed) if billed.isdigit() else float(len(text))
        yield Usage({MediaUnit.INPUT_CHARACTER: characters})

    async def _audio(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body as the network brings it; a break after ElevenLabs accepted is the job failing."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            words = self.http.scrub(f"the audio stream broke: {type(exc).__name__}: {exc}")
            raise vendor_error(None, words, accepted=True, vendor=VENDOR.name) from None


async def _joined(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`first`, then the rest of the stream it was read from."""
    if first:
        yield first
    async for chunk in rest:
        yield chunk
