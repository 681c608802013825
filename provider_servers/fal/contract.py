"""The contract cases of the fal provider (entry point group `prizm.contract`), run against `FakeFal`."""

from __future__ import annotations

import array
import contextlib
import hashlib
import io
import re
import secrets
import struct
import wave
from collections.abc import Iterator

import pytest

from provider_servers.contract import Case, text_input
from provider_servers.fal.fake import FakeFal, Script
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["cases", "environment"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SAYING = "one two three four five six seven eight nine ten"
# Not speech: the fake does not listen, it reports what it received.
_SPEECH = b"RIFF" + bytes(range(256)) * 16


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """A `FakeFal` whose requests log their percentage in 4% steps, and a canary key for it."""
    key = f"sk-CANARY-{secrets.token_hex(8)}"
    with FakeFal(key) as fake:
        fake.script = Script(logs=tuple(f"Sampling: {percent}%" for percent in range(4, 101, 4)))
        yield {
            "FAL_KEY": key,
            "FAL_BASE_URL": fake.url,
            "FAL_REST_URL": fake.url,
            "FAL_API_URL": f"{fake.url}/v1",
        }


def _check_picture(data: bytes) -> None:
    """A PNG of the size asked for (fal's image_size 512 x 256)."""
    assert data.startswith(_PNG_SIGNATURE), data[:16]
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (512, 256)


_HEARD = re.compile(r"(\d+) bytes, sha256 ([0-9a-f]{64})")


def _speech() -> InputAsset:
    return InputAsset.inline(MediaKind.AUDIO, "audio/wav", _SPEECH)


def _check_heard(data: bytes) -> None:
    """The fake's "transcript": the size and hash of the audio it received, which must be ours."""
    found = _HEARD.fullmatch(data.decode("utf-8"))
    assert found is not None, data[:200]
    assert (int(found[1]), found[2]) == (len(_SPEECH), hashlib.sha256(_SPEECH).hexdigest())


def _check_speech(data: bytes) -> None:
    """A 24 kHz mono WAV as long as the fake says the sample takes at double speed, and not silent."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        peak = max(abs(s) for s in array.array("h", wav.readframes(wav.getnframes())))
    assert seconds == pytest.approx(len(_SAYING) / 15 / 2, abs=0.01), seconds
    assert peak > 1000, "the speech is silent"


def cases() -> list[Case]:
    """Each built-in model: its output checked, and a long run of each to cancel."""
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            model="fal-ai/kokoro/american-english",
            sample=lambda: text_input(_SAYING),
            options={"voice": "am_adam", "speed": 2.0},
            long_input=lambda: text_input(_SAYING),
            check=_check_speech,
        ),
        Case(
            capability=Capability.AUDIO_TO_TEXT,
            model="fal-ai/whisper",
            sample=_speech,
            long_input=_speech,
            check=_check_heard,
        ),
        Case(
            capability=Capability.TEXT_TO_IMAGE,
            model="fal-ai/flux/schnell",
            sample=lambda: text_input("a lighthouse at dusk"),
            options={"width": 512, "height": 256, "format": "png"},
            long_input=lambda: text_input("a lighthouse at dusk, very detailed"),
            check=_check_picture,
        ),
    ]
