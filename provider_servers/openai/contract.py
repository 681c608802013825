"""The contract cases of the openai provider, run against `FakeOpenAI` with a canary key."""

from __future__ import annotations

import contextlib
import io
import secrets
import wave
from collections.abc import Callable, Iterator

from provider_servers.contract import Case, text_input
from provider_servers.openai.fake import SPEECH_SECONDS_PER_CHARACTER, FakeOpenAI
from provider_servers.openai.fake_media import png, png_size, tone_pcm, wav
from provider_servers.sdk import Capability, InputAsset, MediaKind, OptionValue

__all__ = ["cases", "environment"]

_PROMPT = "a lighthouse on a cliff at dawn"
_TRANSCRIPT = "the quick brown fox jumps over the lazy dog"


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """A `FakeOpenAI` with a fresh canary key, and the variables pointing the provider at it."""
    key = f"sk-CANARY-{secrets.token_hex(8)}"
    with FakeOpenAI(key) as fake:
        fake.transcript = _TRANSCRIPT
        yield {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake.base_url}


def _tone(seconds: float) -> InputAsset:
    return InputAsset.inline(MediaKind.AUDIO, "audio/wav", wav(tone_pcm(seconds)))


def _png(data: bytes) -> InputAsset:
    return InputAsset.inline(MediaKind.IMAGE, "image/png", data)


def _square_png() -> InputAsset:
    return _png(png(64, 64, "input"))


def _check_picture(width: int, height: int) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        assert png_size(data) == (width, height)

    return check


def _check_speech(text: str) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        with wave.open(io.BytesIO(data), "rb") as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert abs(seconds - len(text) * SPEECH_SECONDS_PER_CHARACTER) < 0.01, seconds

    return check


def _check_text(expected: str) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        assert data.decode("utf-8") == expected

    return check


def _chat(model: str) -> Case:
    return Case(
        capability=Capability.TEXT_TO_TEXT,
        model=model,
        sample=lambda: text_input("hello there"),
        check=_check_text("You said: hello there"),
        long_input=lambda: text_input(" ".join(["word"] * 400)),
    )


def _image(model: str, capability: Capability, size: tuple[int, int]) -> Case:
    edit = capability == Capability.IMAGE_TO_IMAGE
    options: dict[str, OptionValue] = {"width": size[0], "height": size[1]}
    if edit:
        options["prompt"] = _PROMPT
    sample = _square_png if edit else lambda: text_input(_PROMPT)
    return Case(
        capability=capability,
        model=model,
        sample=sample,
        options=options,
        check=_check_picture(*size),
        long_input=sample,
        wrong_kind=lambda: text_input(_PROMPT) if edit else _square_png(),
    )


def _speech(model: str) -> Case:
    text = "Prizm speaks through OpenAI."
    return Case(
        capability=Capability.TEXT_TO_AUDIO,
        model=model,
        sample=lambda: text_input(text),
        options={"format": "wav"},
        check=_check_speech(text),
        long_input=lambda: text_input("A long sentence to say. " * 150),
    )


def cases() -> list[Case]:
    """One case per model: OpenAI's answers come from the fake, so each check knows what to expect."""
    return [
        _chat("gpt-4o-mini"),
        _chat("gpt-4o"),
        _image("gpt-image-1", Capability.TEXT_TO_IMAGE, (1536, 1024)),
        _image("gpt-image-1", Capability.IMAGE_TO_IMAGE, (1024, 1024)),
        _image("dall-e-3", Capability.TEXT_TO_IMAGE, (1024, 1024)),
        _image("dall-e-2", Capability.TEXT_TO_IMAGE, (256, 256)),
        _image("dall-e-2", Capability.IMAGE_TO_IMAGE, (512, 512)),
        _speech("tts-1"),
        _speech("tts-1-hd"),
        Case(
            capability=Capability.AUDIO_TO_TEXT,
            model="whisper-1",
            sample=lambda: _tone(2.0),
            check=_check_text(_TRANSCRIPT),
            long_input=lambda: _tone(60.0),
            options={"language": "en-US"},
        ),
    ]
