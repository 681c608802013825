"""Real media for the OpenAI fake to answer with: PNG pictures and speech-like audio in each format."""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import struct
import wave
import zlib

__all__ = ["SPEECH_RATE", "encode_speech", "png", "png_size", "tone_pcm", "wav"]

# OpenAI's speech is 24 kHz mono; so is the fake's.
SPEECH_RATE = 24_000
_FFMPEG_CODECS = {
    "mp3": ("-c:a", "libmp3lame", "-f", "mp3"),
    "opus": ("-c:a", "libopus", "-f", "ogg"),
    "aac": ("-c:a", "aac", "-f", "adts"),
    "flac": ("-c:a", "flac", "-f", "flac"),
}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, seed: str) -> bytes:
    """A `width` x `height` RGB PNG in one colour picked by `seed`, written with zlib alone."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height, 6)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def tone_pcm(seconds: float) -> bytes:
    """`seconds` of a 220 Hz tone, 16-bit little-endian mono at SPEECH_RATE (OpenAI's `pcm`)."""
    count = round(seconds * SPEECH_RATE)
    samples = (round(8000 * math.sin(2 * math.pi * 220 * n / SPEECH_RATE)) for n in range(count))
    return struct.pack(f"<{count}h", *samples)


def wav(pcm: bytes) -> bytes:
    """`pcm` (as `tone_pcm` makes it) in a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SPEECH_RATE)
        wav.writeframes(pcm)
    return buffer.getvalue()


async def encode_speech(pcm: bytes, response_format: str) -> bytes:
    """`pcm` in one of /audio/speech's formats: pcm and wav as they are, the others through ffmpeg."""
    if response_format == "pcm":
        return pcm
    if response_format == "wav":
        return wav(pcm)
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(SPEECH_RATE)]
    # Bit-exact, so the same speech is the same bytes (Ogg's stream serial is random otherwise).
    argv += ["-ac", "1", "-i", "pipe:0", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
    argv += [*_FFMPEG_CODECS[response_format], "pipe:1"]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(pcm)
    if process.returncode:
        raise RuntimeError(f"ffmpeg could not write {response_format}: {err.decode(errors='replace')}")
    return out
