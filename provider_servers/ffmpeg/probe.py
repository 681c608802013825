"""What ffprobe says about a media file: its container, length and first audio and video streams."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provider_servers.sdk.tools import ToolError, tool_lines

__all__ = [
    "AudioStream",
    "MediaInfo",
    "ProbeError",
    "VideoStream",
    "parse_probe",
    "probe",
    "probe_command",
    "probe_sync",
]

# ffprobe reads headers only, so even a damaged file answers fast; this bounds a pathological one.
PROBE_TIMEOUT_S = 20.0
# Single-image demuxers: a still picture rather than a video.
_STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")


class ProbeError(ValueError):
    """ffprobe could not read a file as media; the message says why, without paths."""


@dataclass(frozen=True)
class VideoStream:
    """A video (or still picture) stream.

    Attributes:
        codec: ffmpeg codec name, e.g. `h264`.
        width: Width in pixels.
        height: Height in pixels.
        fps: Frames per second when the stream declares it.
    """

    codec: str
    width: int
    height: int
    fps: float | None = None


@dataclass(frozen=True)
class AudioStream:
    """An audio stream.

    Attributes:
        codec: ffmpeg codec name, e.g. `aac`.
        sample_rate: Samples per second.
        channels: Channel count.
    """

    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    """A media file as ffprobe sees it.

    Attributes:
        format_name: ffmpeg demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
        duration_s: Length in seconds; None when unknown (a still image).
        video: The first video stream that is not cover art, if any.
        audio: The first audio stream, if any.
    """

    format_name: str
    duration_s: float | None = None
    video: VideoStream | None = None
    audio: AudioStream | None = None

    @property
    def is_still(self) -> bool:
        """Whether the file is a single picture (PNG, JPEG, WebP, BMP, TIFF)."""
        return self.video is not None and self.format_name in _STILL_FORMATS


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _rate(value: object) -> float | None:
    numerator, _, denominator = str(value).partition("/")
    top, bottom = _number(numerator), _number(denominator or "1")
    return top / bottom if top and bottom else None


def _video(stream: Mapping[str, Any]) -> VideoStream | None:
    if stream.get("disposition", {}).get("attached_pic"):
        return None  # cover art of an audio file, not a video
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if not width or not height:
        return None
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    return VideoStream(str(stream.get("codec_name", "")), width, height, fps)


def _audio(stream: Mapping[str, Any]) -> AudioStream | None:
    rate, channels = int(_number(stream.get("sample_rate")) or 0), int(stream.get("channels") or 0)
    if not rate or not channels:
        return None
    return AudioStream(str(stream.get("codec_name", "")), rate, channels)


def parse_probe(text: str) -> MediaInfo:
    """Reads `ffprobe -print_format json -show_format -show_streams` output.

    Raises:
        ProbeError: The output holds no format, or no audio or video stream.
    """
    try:
        found = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(f"unreadable ffprobe output: {exc}") from exc
    container = found.get("format") or {}
    streams = found.get("streams") or []
    if not container:
        raise ProbeError("not a media file ffmpeg can read")
    video = next((v for s in streams if s.get("codec_type") == "video" and (v := _video(s))), None)
    audio = next((a for s in streams if s.get("codec_type") == "audio" and (a := _audio(s))), None)
    if video is None and audio is None:
        raise ProbeError("holds no audio or video stream")
    durations = [_number(s.get("duration")) for s in streams]
    duration = _number(container.get("duration")) or max((d for d in durations if d), default=None)
    still = str(container.get("format_name", "")) in _STILL_FORMATS
    return MediaInfo(
        format_name=str(container.get("format_name", "")),
        duration_s=None if still else duration,
        video=video,
        audio=audio,
    )


def probe_command(name: str) -> list[str]:
    """The ffprobe command line describing file `name` as JSON."""
    return ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", name]


def _complaint(stderr: str, name: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    line = lines[-1] if lines else "not a media file ffmpeg can read"
    return line.removeprefix(f"{name}: ")


def probe_sync(path: Path) -> MediaInfo:
    """Probes `path` (run in its folder, so no path reaches a message), blocking.

    Raises:
        ProbeError: ffprobe cannot read it, or took longer than PROBE_TIMEOUT_S.
    """
    try:
        done = subprocess.run(
            probe_command(path.name),
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(f"ffprobe took longer than {PROBE_TIMEOUT_S:g} s to read it") from None
    if done.returncode:
        raise ProbeError(_complaint(done.stderr, path.name))
    return parse_probe(done.stdout)


async def probe(path: Path) -> MediaInfo:
    """Probes `path` without blocking the event loop; killed if the caller is cancelled.

    Raises:
        ProbeError: ffprobe cannot read it.
    """
    try:
        lines = [line async for line in tool_lines(probe_command(path.name), cwd=path.parent)]
    except ToolError as exc:
        raise ProbeError(_complaint(exc.stderr, path.name)) from None
    return parse_probe("\n".join(lines))
