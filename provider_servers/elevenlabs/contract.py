"""The contract cases of the ElevenLabs provider, run against its fake with a canary key."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from provider_servers.contract import Case, text_input
from provider_servers.contract.speech import SENTENCE
from provider_servers.elevenlabs.fake import MP3_FRAMES, ElevenLabsFake, fake_speech
from provider_servers.elevenlabs.mapping import MODELS
from provider_servers.sdk import Capability

__all__ = ["cases", "environment"]

_LONG = " ".join(f"{SENTENCE.capitalize()}, sentence {i}." for i in range(60))


def _check_speech(data: bytes) -> None:
    """The fake's MP3 for the sentence, byte for byte: whole frames of 44.1 kHz MP3."""
    header, length, _, _ = MP3_FRAMES["mp3_44100_128"]
    assert data == fake_speech(SENTENCE, "mp3_44100_128"), f"{len(data)} bytes, not the fake's speech"
    assert len(data) % length == 0 and data[:4] == header


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """The fake on loopback, sending its audio in five pieces a fifth of a second apart, and a
    canary key, as the provider's variables."""
    key = f"sk-CANARY-{secrets.token_hex(8)}"
    with ElevenLabsFake(key) as fake:
        fake.script.pieces, fake.script.pause_s = 5, 0.2
        yield {"ELEVENLABS_API_KEY": key, "ELEVENLABS_BASE_URL": fake.url}


def cases() -> list[Case]:
    """For each model, one sentence to say and sixty to cancel."""
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            model=model.id,
            sample=lambda: text_input(SENTENCE),
            long_input=lambda: text_input(_LONG),
            check=_check_speech,
        )
        for model in MODELS
    ]
