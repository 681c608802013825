"""The contract cases of the Cog provider, run against a real Cog server with the `tone` predictor."""

from __future__ import annotations

import contextlib
import io
import wave
from collections.abc import Iterator

from provider_servers.cog.devserver import PREDICTORS, cog_server
from provider_servers.contract import Case, text_input
from provider_servers.sdk import Capability

__all__ = ["cases", "environment"]

_SAMPLE = "Prizm speaks through Cog."
# 0.01 s of tone a character, at 8000 frames a second (see the predictor).
_RATE = 8000


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """A Cog server running the `tone` predictor, and the variables that point the provider at it."""
    with cog_server(PREDICTORS / "tone") as server:
        yield {
            "PRIZM_COG_URL": server.url,
            "PRIZM_COG_CAPABILITIES": "text-to-audio",
            "PRIZM_COG_OUTPUT_MIME": "audio/wav",
        }


def _check_tone(data: bytes) -> None:
    """A mono 16-bit WAV, as long as the predictor makes it for the sample, not silent."""
    with wave.open(io.BytesIO(data)) as audio:
        frames = audio.readframes(audio.getnframes())
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, _RATE)
    assert len(frames) // 2 == round(len(_SAMPLE) * 0.01 * _RATE), len(frames)
    assert max(frames[1::2]) > 0x20, "the tone is silent"


def cases() -> list[Case]:
    """The tone predictor: a WAV for the sample; twenty steps of 0.2 s for the long input."""
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            sample=lambda: text_input(_SAMPLE),
            long_input=lambda: text_input("a long tone to cancel half way"),
            options={"steps": 2, "step_s": 0.0},
            long_options={"steps": 20, "step_s": 0.2},
            check=_check_tone,
        )
    ]
