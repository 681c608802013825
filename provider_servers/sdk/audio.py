"""PCM audio helpers for providers: WAV in and out, mono mixdown, resampling."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Pcm", "decode_wav", "encode_wav", "resample"]

_SAMPLE_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit audio."""

    samples: npt.NDArray[np.int16]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def encode_wav(samples: npt.NDArray[np.int16], sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file holding `samples`."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def decode_wav(data: bytes) -> Pcm:
    """Decodes a PCM WAV file (8, 16 or 32 bit, any channel count) to mono 16-bit.

    Raises:
        ValueError: The data is not a PCM WAV file this can read.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    dtype = _SAMPLE_DTYPES.get(width)
    if dtype is None:
        raise ValueError(f"unsupported WAV sample width: {width * 8} bit")
    raw = np.frombuffer(frames, dtype=np.dtype(dtype).newbyteorder("<")).astype(np.float64)
    if width == 1:
        raw = (raw - 128.0) * 256.0
    elif width == 4:
        raw = raw / 65536.0
    if channels > 1:
        raw = raw[: len(raw) - len(raw) % channels].reshape(-1, channels).mean(axis=1)
    return Pcm(samples=np.clip(raw, -32768, 32767).astype(np.int16), sample_rate=rate)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """`pcm` at `rate`, by linear interpolation (enough for speech recognition)."""
    if pcm.sample_rate == rate or len(pcm.samples) == 0:
        return Pcm(samples=pcm.samples, sample_rate=rate)
    count = round(len(pcm.samples) * rate / pcm.sample_rate)
    positions = np.linspace(0, len(pcm.samples) - 1, count)
    values = np.interp(positions, np.arange(len(pcm.samples)), pcm.samples.astype(np.float64))
    return Pcm(samples=values.astype(np.int16), sample_rate=rate)
