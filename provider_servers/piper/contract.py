"""The contract cases of the piper provider (entry point group `prizm.contract`)."""

from __future__ import annotations

import io
import wave

import numpy as np

from provider_servers.contract import Case, text_input
from provider_servers.contract.speech import SENTENCE
from provider_servers.sdk import Capability

__all__ = ["cases"]


def _check_speech(data: bytes) -> None:
    """A WAV of at least a second that is not silent."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert seconds >= 1.0, seconds
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 500, "the speech is silent"


def cases() -> list[Case]:
    """One sentence to say, and sixty to cancel."""
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            sample=lambda: text_input(SENTENCE),
            long_input=lambda: text_input(
                " ".join([f"{SENTENCE.capitalize()}, sentence {i}." for i in range(60)])
            ),
            check=_check_speech,
        )
    ]
