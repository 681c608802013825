"""Audio, video and pictures for contract cases, made with ffmpeg's lavfi sources, and outputs decoded."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "TONE_HZ",
    "Probed",
    "decode_audio",
    "decode_frame",
    "dominant_hz",
    "frames_sha256",
    "long_audio",
    "long_video",
    "loudness_lufs",
    "make_file",
    "probe_bytes",
    "raw_video",
    "sample_audio",
    "sample_image",
    "sample_video",
    "short_video",
]

TONE_HZ = 440
T = TypeVar("T")


def make_file(target: Path, *args: str) -> None:
    """Runs `ffmpeg ARGS TARGET`."""
    command = ["ffmpeg", "-y", "-v", "error", *args, str(target)]
    subprocess.run(command, check=True)


def _make(suffix: str, *args: str) -> bytes:
    """What `ffmpeg ARGS out.SUFFIX` writes."""
    with tempfile.TemporaryDirectory(prefix="prizm-test-media-") as folder:
        target = Path(folder) / f"out.{suffix}"
        make_file(target, *args)
        return target.read_bytes()


def frames_sha256(path: Path) -> str:
    """The SHA-256 of a video's decoded frames: the same after a remux, whatever the container."""
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "hash", "-hash", "sha256", "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@cache
def sample_video() -> bytes:
    """3 s of moving test pattern, 320x240 at 25 fps (H.264), with a 440 Hz tone (AAC, 44.1 kHz mono)."""
    return _make(
        "mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
        *("-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=44100"),
        *("-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
    )


@cache
def short_video() -> bytes:
    """20 s of test pattern, 160x120 at 25 fps, no sound: slow to blow up to full HD."""
    return _make(
        "mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "20"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    )


def raw_video() -> bytes:
    """2 s of uncompressed 320x240 test pattern (Matroska): over the 4 MiB inline limit."""
    return _make(
        "mkv",
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2"),
        *("-c:v", "rawvideo", "-pix_fmt", "yuv420p"),
    )


@cache
def long_video() -> bytes:
    """20 min of a tiny 1 fps test pattern with a silent 8 kHz track (Matroska, under 1 MB)."""
    return _make(
        "mkv",
        *("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1"),
        *("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1200"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac"),
    )


@cache
def sample_audio() -> bytes:
    """3 s of a 440 Hz tone, 44.1 kHz stereo, 16-bit WAV."""
    return _make(
        "wav",
        *("-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=44100", "-t", "3", "-ac", "2"),
    )


@cache
def long_audio() -> bytes:
    """20 min of silence at 8 kHz, FLAC (a few hundred KB)."""
    return _make("flac", *("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1200"))


@cache
def sample_image(color: str = "", size: str = "320x240") -> bytes:
    """A PNG: one test pattern frame, or a plain `color` when given."""
    source = f"color=c={color}:s={size}" if color else f"testsrc2=size={size}"
    return _make("png", *("-f", "lavfi", "-i", source, "-frames:v", "1"))


class Probed:
    """ffprobe's view of some bytes (frames counted), with its first audio and video streams."""

    def __init__(self, found: dict[str, Any]) -> None:
        self.format: dict[str, Any] = found["format"]
        streams = found.get("streams", [])
        self.video: dict[str, Any] = next((s for s in streams if s["codec_type"] == "video"), {})
        self.audio: dict[str, Any] = next((s for s in streams if s["codec_type"] == "audio"), {})

    @property
    def duration_s(self) -> float:
        """Container duration."""
        return float(self.format["duration"])

    @property
    def size(self) -> tuple[int, int]:
        """Video width and height."""
        return int(self.video["width"]), int(self.video["height"])

    @property
    def frames(self) -> int:
        """Video frames, decoded and counted."""
        return int(self.video["nb_read_frames"])


def _in_file(data: bytes, run: Callable[[Path], T]) -> T:
    """What `run` returns for a temporary file holding `data`."""
    with tempfile.TemporaryDirectory(prefix="prizm-test-media-") as folder:
        path = Path(folder) / "media"
        path.write_bytes(data)
        return run(path)


def probe_bytes(data: bytes) -> Probed:
    """ffprobe of `data`, counting video frames by decoding them."""

    def run(path: Path) -> Probed:
        command = ["ffprobe", "-v", "error", "-count_frames", "-print_format", "json"]
        done = subprocess.run(
            [*command, "-show_format", "-show_streams", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        return Probed(json.loads(done.stdout))

    return _in_file(data, run)


def decode_audio(data: bytes, rate: int = 16000) -> npt.NDArray[np.float64]:
    """The audio of `data` as mono float samples at `rate`."""

    def run(path: Path) -> bytes:
        command = ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
        return subprocess.run(command, check=True, capture_output=True).stdout

    return np.frombuffer(_in_file(data, run), dtype="<i2").astype(np.float64) / 32768.0


def dominant_hz(samples: npt.NDArray[np.float64], rate: int = 16000) -> float:
    """The strongest frequency in `samples`."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[int(np.argmax(spectrum))])


def loudness_lufs(data: bytes) -> float:
    """Integrated loudness of `data` (EBU R128, ffmpeg's ebur128 filter)."""

    def run(path: Path) -> str:
        command = ["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"]
        return subprocess.run(command, check=True, capture_output=True, text=True).stderr

    log = _in_file(data, run)
    summary = log[log.rindex("Summary:") :]
    line = next(line for line in summary.splitlines() if line.strip().startswith("I:"))
    return float(line.split()[1])


def decode_frame(data: bytes, at_s: float = 0.0) -> npt.NDArray[np.uint8]:
    """The frame of `data` (a video or a picture) at `at_s`, as an RGB array (height, width, 3)."""
    found = probe_bytes(data)
    width, height = found.size

    def run(path: Path) -> bytes:
        command = ["ffmpeg", "-v", "error", "-ss", str(at_s), "-i", str(path), "-frames:v", "1"]
        command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        return subprocess.run(command, check=True, capture_output=True).stdout

    return np.frombuffer(_in_file(data, run), dtype=np.uint8).reshape(height, width, 3)
