"""Real media for tests: a spoken sentence (the contract kit's, by Piper in process), WAV assets."""

from __future__ import annotations

import io
import wave

import numpy as np
from prizm.v1 import media_pb2 as media_pb

from provider_servers.contract.speech import SENTENCE, long_speech_wav, speech_wav

__all__ = ["SENTENCE", "long_speech_wav", "speech_wav", "wav_asset", "wav_seconds_and_rms"]


def wav_asset(data: bytes) -> media_pb.Asset:
    """An inline WAV asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", data=data)


def wav_seconds_and_rms(data: bytes | None) -> tuple[float, float]:
    """Seconds and RMS of a 16-bit mono WAV."""
    assert data is not None
    with wave.open(io.BytesIO(data), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float64)
        return wav.getnframes() / wav.getframerate(), float(np.sqrt(np.mean(samples**2)))
