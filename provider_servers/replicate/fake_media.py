"""Small real media the Replicate fake renders: PNG pictures and WAV speech, with the stdlib only."""

from __future__ import annotations

import hashlib
import io
import struct
import wave
import zlib

__all__ = ["png", "png_size", "tone_wav"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, seed: str, *, noise: bool = False) -> bytes:
    """An RGB PNG of `width` x `height`: one colour picked by `seed`, or (with `noise`) pixels from
    its hash stream, which do not compress (for large files)."""
    if noise:
        row_bytes = width * 3
        stream = hashlib.shake_256(seed.encode()).digest(row_bytes * height)
        rows = b"".join(b"\x00" + stream[y * row_bytes : (y + 1) * row_bytes] for y in range(height))
        pixels = zlib.compress(rows, 0)
    else:
        colour = hashlib.sha256(seed.encode()).digest()[:3]
        pixels = zlib.compress((b"\x00" + colour * width) * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height in a PNG's header.

    Raises:
        ValueError: `data` is not a PNG.
    """
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def tone_wav(seconds: float, sample_rate: int, pitch_hz: int = 220) -> bytes:
    """A mono 16-bit WAV of a square tone lasting `seconds` at `sample_rate`."""
    frames = round(seconds * sample_rate)
    period = max(sample_rate // pitch_hz, 2)
    high, low = struct.pack("<h", 8000), struct.pack("<h", -8000)
    cycle = high * (period // 2) + low * (period - period // 2)
    samples = (cycle * (frames // period + 1))[: frames * 2]
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(samples)
    return out.getvalue()
