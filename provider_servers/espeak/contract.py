"""The contract cases of the espeak provider (entry point group `prizm.contract`)."""

from __future__ import annotations

import io
import wave

import numpy as np

from provider_servers.contract import Case, text_input
from provider_servers.contract.speech import COUNTING, recognised_words, transcribe
from provider_servers.sdk import Capability

__all__ = ["cases"]


def _check_speech(data: bytes) -> None:
    """A 22.05 kHz mono WAV of plausible length, not silent, in which PocketSphinx hears the numbers."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22_050, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert 1.5 <= seconds <= 8.0, seconds
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 500, "the speech is silent"
    heard = transcribe(data)
    assert recognised_words("one two three four five", heard) >= 3, heard


def cases() -> list[Case]:
    """Five numbers to say, and three hundred sentences to cancel."""
    return [
        Case(
            capability=Capability.TEXT_TO_AUDIO,
            sample=lambda: text_input(COUNTING),
            long_input=lambda: text_input(" ".join(f"This is sentence number {i}." for i in range(300))),
            check=_check_speech,
        )
    ]
