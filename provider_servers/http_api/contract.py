"""The contract cases of the http_api provider: `fake_config.yaml` served against `AmazingAiFake`."""

from __future__ import annotations

import contextlib
import io
import secrets
import struct
import tempfile
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import yaml

from provider_servers.contract import Case, text_input
from provider_servers.http_api.fake import SECONDS_PER_CHARACTER, AmazingAiFake
from provider_servers.http_api.provider import CONFIG_ENV
from provider_servers.sdk import Capability, InputAsset, MediaKind
from provider_servers.sdk.audio import encode_wav

__all__ = ["cases", "environment"]

_FAKE_CONFIG = Path(__file__).with_name("fake_config.yaml")


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """An `AmazingAiFake` with a fresh canary key, and the variables pointing the provider at it."""
    key = f"sk-CANARY-{secrets.token_hex(8)}"
    # The suite knows a provider by its entry point's name; the config names the id, so the
    # fixture is served under that name.
    config = yaml.safe_load(_FAKE_CONFIG.read_text(encoding="utf-8"))
    config["id"] = "http_api"
    with AmazingAiFake(key) as fake, tempfile.TemporaryDirectory(prefix="prizm-http-api-") as folder:
        path = Path(folder) / "http_api.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield {CONFIG_ENV: str(path), "AMAZINGAI_API_KEY": key, "AMAZINGAI_BASE_URL": fake.url}


def _seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def _check_speech(text: str) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        assert abs(_seconds(data) - len(text) * SECONDS_PER_CHARACTER) < 0.01, _seconds(data)

    return check


def _check_picture(data: bytes) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", data[16:24]) == (48, 32)


def _silence(seconds: float) -> InputAsset:
    wav = encode_wav(np.zeros(int(seconds * 16000), dtype=np.int16), 16000)
    return InputAsset.inline(MediaKind.AUDIO, "audio/wav", wav)


def _check_heard(data: bytes) -> None:
    assert data.decode("utf-8") == "2.00 seconds of 16000 Hz audio in en"


def cases() -> list[Case]:
    """One case per model of `fake_config.yaml`; the fake's answers are known, so each check is exact."""
    speech, story = "Prizm speaks through a YAML file.", "Once upon a time. " * 200
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            model="amazing-speech",
            sample=lambda: text_input(speech),
            check=_check_speech(speech),
            long_input=lambda: text_input(story),
        ),
        Case(
            capability=Capability.TEXT_TO_IMAGE,
            model="amazing-image",
            sample=lambda: text_input("a lighthouse"),
            options={"width": 48, "height": 32},
            check=_check_picture,
            long_input=lambda: text_input("a lighthouse"),
        ),
        Case(
            capability=Capability.AUDIO_TO_TEXT,
            model="amazing-listen",
            sample=lambda: _silence(2.0),
            check=_check_heard,
            long_input=lambda: _silence(30.0),
            wrong_kind=lambda: text_input("not audio"),
        ),
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            model="amazing-narrator",
            sample=lambda: text_input(speech),
            check=_check_speech(speech),
            long_input=lambda: text_input(story),
        ),
    ]
