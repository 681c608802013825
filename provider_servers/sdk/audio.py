"""Audio helpers for providers: WAV in and out, mono mixdown, resampling, and other formats
(mp3, ogg, flac, m4a, webm) written and read through ffmpeg."""

from __future__ import annotations

import asyncio
import io
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import numpy.typing as npt

from prizm_core.errors import PrizmError, Reason
from provider_servers.sdk.tools import ToolError, missing_tools, tool_lines

__all__ = [
    "AUDIO_ENCODINGS",
    "COMPRESSED_AUDIO_MIME_TYPES",
    "WAV_MIME_TYPES",
    "AudioEncoding",
    "Pcm",
    "decode_audio",
    "decode_wav",
    "encode_audio",
    "encode_wav",
    "probe_seconds",
    "require_encoder",
    "resample",
]

WAV_MIME_TYPES = ("audio/wav", "audio/x-wav", "audio/wave")
# What decode_audio reads through ffmpeg: mp3, Ogg (Vorbis or Opus), FLAC, AAC or ALAC in .m4a, WebM.
COMPRESSED_AUDIO_MIME_TYPES = (
    "audio/mpeg",
    "audio/mp3",
    "audio/ogg",
    "audio/flac",
    "audio/x-flac",
    "audio/mp4",
    "audio/x-m4a",
    "audio/webm",
)
_FFMPEG = ("ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error")
_FFMPEG_HINT = "Debian: apt-get install ffmpeg"
# The Ogg muxer picks a random stream serial and the muxers write ffmpeg's version into the file:
# bitexact fixes both, so the same audio gives the same bytes in every job.
_BITEXACT = ("-fflags", "+bitexact", "-flags:a", "+bitexact")
_PROBE_TIMEOUT_S = 30.0

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


@dataclass(frozen=True)
class AudioEncoding:
    """How `encode_audio` writes one format.

    Attributes:
        mime_type: MIME type of the file written.
        ffmpeg: ffmpeg's encoder and muxer arguments; empty for WAV, which is written here.
    """

    mime_type: str
    ffmpeg: tuple[str, ...] = ()


# The `format` values of the text-to-audio providers: LAME VBR about 190 kb/s, Vorbis quality 5.
AUDIO_ENCODINGS = {
    "wav": AudioEncoding("audio/wav"),
    "mp3": AudioEncoding("audio/mpeg", ("-c:a", "libmp3lame", "-q:a", "2", "-f", "mp3")),
    "ogg": AudioEncoding("audio/ogg", ("-c:a", "libvorbis", "-q:a", "5", "-f", "ogg")),
    "flac": AudioEncoding("audio/flac", ("-c:a", "flac", "-f", "flac")),
}


def require_encoder(audio_format: str) -> None:
    """Refuses a format this machine cannot write: every one but WAV needs ffmpeg on the PATH.

    Raises:
        PrizmError: FAILED_PRECONDITION, reason TOOL_MISSING, naming the format and ffmpeg.
    """
    if audio_format != "wav" and missing_tools("ffmpeg"):
        raise PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.TOOL_MISSING,
            f"format {audio_format} is encoded by ffmpeg, which is not installed where this provider "
            f"runs ({_FFMPEG_HINT}); format wav needs nothing more",
        )


async def encode_audio(
    samples: npt.NDArray[np.int16], sample_rate: int, audio_format: str, workdir: Path
) -> bytes:
    """Mono 16-bit `samples` as a file of `audio_format` (a key of AUDIO_ENCODINGS).

    WAV is written here; the others by ffmpeg in `workdir`, killed with its process group if
    the caller is cancelled.

    Raises:
        PrizmError: FAILED_PRECONDITION (TOOL_MISSING) without ffmpeg; INTERNAL (TOOL_FAILED)
            when ffmpeg fails.
    """
    wav = encode_wav(samples, sample_rate)
    encoding = AUDIO_ENCODINGS[audio_format]
    if not encoding.ffmpeg:
        return wav
    require_encoder(audio_format)
    source, target = workdir / "encode-in.wav", workdir / f"encode-out.{audio_format}"
    await asyncio.to_thread(source.write_bytes, wav)
    argv = [*_FFMPEG, "-i", source.name, *encoding.ffmpeg, *_BITEXACT, target.name]
    try:
        async for _ in tool_lines(argv, cwd=workdir):
            pass  # ffmpeg prints nothing at this log level; the loop waits for it to exit
    except ToolError as exc:
        raise PrizmError(
            grpc.StatusCode.INTERNAL,
            Reason.TOOL_FAILED,
            f"ffmpeg could not write {audio_format}: {exc.last_line()}",
        ) from exc
    data = await asyncio.to_thread(target.read_bytes)
    await asyncio.to_thread(source.unlink)
    await asyncio.to_thread(target.unlink)
    return data


def probe_seconds(path: Path) -> float | None:
    """The length of the audio in a file, from ffprobe (blocking, tens of milliseconds).

    Returns:
        Seconds, or None when the container does not say.

    Raises:
        ValueError: ffprobe cannot read the file or finds no audio in it; the message says why.
    """
    argv = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=codec_type:format=duration",
    ]
    try:
        found = subprocess.run(
            [*argv, "-of", "default=noprint_wrappers=1", str(path)],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"ffprobe took over {_PROBE_TIMEOUT_S:g} s to read it") from None
    except FileNotFoundError:
        raise ValueError(f"ffprobe is not installed where this provider runs ({_FFMPEG_HINT})") from None
    if found.returncode:
        lines = [line for line in found.stderr.replace(f"{path}: ", "").splitlines() if line.strip()]
        raise ValueError(lines[-1] if lines else f"ffprobe exited with {found.returncode}")
    fields = dict(line.partition("=")[::2] for line in found.stdout.splitlines())
    if fields.get("codec_type") != "audio":
        raise ValueError("it holds no audio stream")
    try:
        return float(fields.get("duration", ""))
    except ValueError:
        return None


async def decode_audio(path: Path, workdir: Path, sample_rate: int | None = None) -> Pcm:
    """Any audio file ffmpeg reads (its first audio stream), as mono 16-bit PCM.

    ffmpeg mixes it down (and resamples it to `sample_rate`, if given, else keeps its rate) into
    a WAV file in `workdir`: half an hour of 16 kHz speech is 58 MB there, where the source's own
    rate and channels could make it ten times that. ffmpeg is killed if the caller is cancelled.

    Raises:
        ValueError: ffmpeg cannot decode the file; the message says why.
    """
    target = workdir / "decoded.wav"
    rate = ("-ar", str(sample_rate)) if sample_rate else ()
    argv = [
        *_FFMPEG,
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-ac",
        "1",
        *rate,
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
        target.name,
    ]
    try:
        async for _ in tool_lines(argv, cwd=workdir):
            pass
    except ToolError as exc:
        raise ValueError(f"ffmpeg cannot decode it: {exc.last_line(workdir)}") from exc
    data = await asyncio.to_thread(target.read_bytes)
    await asyncio.to_thread(target.unlink)
    return await asyncio.to_thread(decode_wav, data)
