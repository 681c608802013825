"""The contract cases of the Replicate provider, run against `ReplicateFake` with a canary token."""

from __future__ import annotations

import contextlib
import io
import secrets
import wave
from collections.abc import Iterator

from provider_servers.contract import Case, text_input
from provider_servers.replicate.fake import ReplicateFake
from provider_servers.replicate.fake_media import png, png_size
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["cases", "environment"]

# Ten polls of a fifth of a second: a job long enough to cancel half way, short enough for a suite.
_POLLS = 10
_POLL_INTERVAL_S = "0.2"
# A word of the language model's answer every 0.3 s: its long answer streams for about two seconds.
_PIECE_DELAY_S = 0.3


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """A fake Replicate on loopback, and the variables that point the provider at it."""
    token = f"r8_CANARY-{secrets.token_hex(8)}"
    with ReplicateFake(token) as fake:
        fake.polls = _POLLS
        fake.piece_delay_s = _PIECE_DELAY_S
        yield {
            "REPLICATE_API_TOKEN": token,
            "REPLICATE_BASE_URL": fake.url,
            "REPLICATE_POLL_INTERVAL": _POLL_INTERVAL_S,
        }


def _check_square(data: bytes) -> None:
    """FLUX's default: one picture of about a megapixel, square."""
    assert png_size(data) == (1024, 1024), png_size(data)


def _check_wide(data: bytes) -> None:
    """FLUX1.1 [pro] at the exact size asked for."""
    assert png_size(data) == (640, 384), png_size(data)


def _check_upscaled(data: bytes) -> None:
    """Real-ESRGAN's default: four times as wide and high."""
    assert png_size(data) == (4 * 48, 4 * 32), png_size(data)


def _check_speech(data: bytes) -> None:
    """Speech as long as the fake speaks the sample (0.06 s a character)."""
    with wave.open(io.BytesIO(data)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert abs(seconds - len(_SPOKEN) * 0.06) < 0.01, seconds


def _check_answer(data: bytes) -> None:
    """The fake's language model echoes the prompt."""
    assert data.decode() == "You said: tell me a story", data


def _picture() -> InputAsset:
    return InputAsset.inline(MediaKind.IMAGE, "image/png", png(48, 32, "contract"))


_SPOKEN = "Prizm speaks through Replicate."


def cases() -> list[Case]:
    """One case per built-in model: pictures, speech, an upscale, a streamed answer, any model by name."""
    return [
        Case(
            capability=Capability.TEXT_TO_IMAGE,
            model="black-forest-labs/flux-schnell",
            sample=lambda: text_input("a lighthouse at dusk"),
            long_input=lambda: text_input("a lighthouse at dawn"),
            check=_check_square,
        ),
        Case(
            capability=Capability.TEXT_TO_IMAGE,
            model="black-forest-labs/flux-1.1-pro",
            sample=lambda: text_input("a harbour"),
            long_input=lambda: text_input("a harbour at night"),
            options={"width": 640, "height": 384},
            check=_check_wide,
        ),
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            model="minimax/speech-02-turbo",
            sample=lambda: text_input(_SPOKEN),
            long_input=lambda: text_input(_SPOKEN),
            options={"format": "wav"},
            long_options={"format": "wav"},
            check=_check_speech,
        ),
        Case(
            capability=Capability.IMAGE_TO_IMAGE,
            model="nightmareai/real-esrgan",
            sample=_picture,
            long_input=_picture,
            check=_check_upscaled,
            wrong_kind=lambda: text_input("not a picture"),
        ),
        Case(
            capability=Capability.TEXT_TO_TEXT,
            model="meta/meta-llama-3-8b-instruct",
            sample=lambda: text_input("tell me a story"),
            long_input=lambda: text_input("tell me a long story"),
            long_options={"max_tokens": 20},
            check=_check_answer,
        ),
    ]
