"""ffmpeg command lines for the audio and transcode models, built from options and probed inputs.

Pure: no process is run here. Every file is named relative to the job's folder, which ffmpeg
runs in, so no temporary path can reach an argument or an error message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from provider_servers.ffmpeg.probe import MediaInfo
from provider_servers.sdk import MediaKind, OptionValue

__all__ = [
    "AUDIO_FORMATS",
    "BASE",
    "BITEXACT",
    "CONTAINERS",
    "LOUDNORM",
    "AudioFormat",
    "Container",
    "Plan",
    "Request",
    "Source",
    "Step",
    "convert_audio",
    "escape_filter_value",
    "even",
    "extract_audio",
    "nearest_rate",
    "seconds",
    "transcode",
    "trimmed_length",
    "video_codec",
    "video_encoder",
]

# Progress as key=value blocks on stdout, every 0.2 s; only errors on stderr.
BASE = (
    "ffmpeg",
    "-hide_banner",
    "-nostdin",
    "-y",
    "-loglevel",
    "error",
    "-nostats",
    "-progress",
    "pipe:1",
    "-stats_period",
    "0.2",
)
# EBU R128 targets of the loudnorm filter: integrated loudness, true peak, loudness range.
LOUDNORM = "loudnorm=I=-16:TP=-1.5:LRA=11"
# The Ogg muxer picks a random stream serial number and the Matroska/WebM one random segment and
# track UIDs, so the same job wrote different bytes every time. bitexact makes them fixed (and
# leaves ffmpeg's version out of the "encoder" tags); the encoded audio and video are untouched.
# The other muxers (wav, mp3, flac, mp4, image2) already write the same bytes for the same input.
BITEXACT = ("-fflags", "+bitexact")


@dataclass(frozen=True)
class Source:
    """A probed input file.

    Attributes:
        name: File name in the job's folder.
        info: What ffprobe found in it.
    """

    name: str
    info: MediaInfo


@dataclass(frozen=True)
class Request:
    """What a command line is built from.

    Attributes:
        options: The job's options, defaults filled in.
        sources: The probed media inputs, in order (none for text).
        text: The text to draw (title card).
        font_file: Font to draw it with (title card).
    """

    options: Mapping[str, OptionValue]
    sources: tuple[Source, ...] = ()
    text: str = ""
    font_file: str = ""


@dataclass(frozen=True)
class Step:
    """One ffmpeg run of a job.

    Attributes:
        argv: The command line.
        stage: Stage name for progress events.
        label: What it does, for progress messages.
        expected_s: Media seconds it will write, for the fraction; None when not known.
        weight: Its share of the whole job's progress.
    """

    argv: tuple[str, ...]
    stage: str
    label: str
    expected_s: float | None
    weight: float = 1.0


@dataclass(frozen=True)
class Plan:
    """The ffmpeg runs of a job and the file they leave.

    Attributes:
        steps: Runs, in order.
        output: File name of the result in the job's folder.
        kind: Media kind of the result.
        mime_type: MIME type of the result.
        files: Text files to write into the job's folder first, by name.
    """

    steps: tuple[Step, ...]
    output: str
    kind: MediaKind
    mime_type: str
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AudioFormat:
    """How to write one audio format: encoder, muxer, file name and the sample rates it takes."""

    encoder: tuple[str, ...]
    muxer: tuple[str, ...]
    extension: str
    mime_type: str
    rates: tuple[int, ...] = ()  # empty: any rate in the model's bounds


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_AAC_RATES = (*_MP3_RATES, 64000, 88200, 96000)
AUDIO_FORMATS = {
    "wav": AudioFormat(("-c:a", "pcm_s16le"), ("-f", "wav"), "wav", "audio/wav"),
    "mp3": AudioFormat(("-c:a", "libmp3lame", "-q:a", "2"), ("-f", "mp3"), "mp3", "audio/mpeg", _MP3_RATES),
    "flac": AudioFormat(("-c:a", "flac"), ("-f", "flac"), "flac", "audio/flac"),
    "ogg": AudioFormat(("-c:a", "libvorbis", "-q:a", "5"), ("-f", "ogg", *BITEXACT), "ogg", "audio/ogg"),
    "m4a": AudioFormat(
        ("-c:a", "aac", "-b:a", "160k"),
        ("-f", "ipod", "-movflags", "+faststart"),
        "m4a",
        "audio/mp4",
        _AAC_RATES,
    ),
}


@dataclass(frozen=True)
class Container:
    """How to write one video container and what it takes as is."""

    muxer: tuple[str, ...]
    extension: str
    mime_type: str
    audio_encoder: tuple[str, ...]
    video_codecs: tuple[str, ...]  # encoders (our names) it takes
    copies_video: frozenset[str] = field(default_factory=frozenset)  # ffmpeg codec names; empty: any
    copies_audio: frozenset[str] = field(default_factory=frozenset)  # ffmpeg codec names; empty: any


_AAC = ("-c:a", "aac", "-b:a", "128k")
CONTAINERS = {
    "mp4": Container(
        ("-f", "mp4", "-movflags", "+faststart"),
        "mp4",
        "video/mp4",
        _AAC,
        ("h264", "vp9", "mpeg4"),
        frozenset({"h264", "hevc", "mpeg4", "vp9", "av1", "mpeg1video", "mpeg2video"}),
        frozenset({"aac", "mp3", "opus", "alac", "ac3"}),
    ),
    "webm": Container(
        ("-f", "webm", *BITEXACT),
        "webm",
        "video/webm",
        ("-c:a", "libopus", "-b:a", "96k"),
        ("vp9",),
        frozenset({"vp8", "vp9", "av1"}),
        frozenset({"opus", "vorbis"}),
    ),
    "mkv": Container(
        ("-f", "matroska", *BITEXACT), "mkv", "video/x-matroska", _AAC, ("h264", "vp9", "mpeg4")
    ),
}
_VIDEO_ENCODERS = {
    "h264": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"),
    # Realtime VP9: several times faster than the default "good" deadline, at some cost in size.
    "vp9": (
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-row-mt",
        "1",
        "-b:v",
        "0",
        "-crf",
        "33",
        "-pix_fmt",
        "yuv420p",
    ),
    "mpeg4": ("-c:v", "mpeg4", "-q:v", "4", "-pix_fmt", "yuv420p"),
}


def seconds(value: float) -> str:
    """A time for ffmpeg's command line: at most microsecond precision, no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def even(value: float) -> int:
    """`value` rounded down to an even number, at least 2 (4:2:0 video needs even sizes)."""
    return max(int(value) // 2 * 2, 2)


def escape_filter_value(value: str) -> str:
    """`value` escaped to stand as an option value inside a filtergraph (both escaping levels)."""
    within_filter = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", within_filter)


def trimmed_length(total_s: float | None, start_s: float, duration_s: float | None) -> float | None:
    """Seconds left after skipping `start_s` and keeping at most `duration_s`; None when unknown."""
    if total_s is None:
        return duration_s
    rest = max(total_s - start_s, 0.0)
    return rest if duration_s is None else min(rest, duration_s)


def _kept_length(source: Source, options: Mapping[str, OptionValue]) -> float | None:
    """Seconds of `source` a trim by `start_s` and `duration_s` keeps."""
    return trimmed_length(
        source.info.duration_s, float(options.get("start_s", 0.0)), _optional(options, "duration_s")
    )


def _trim_args(options: Mapping[str, OptionValue]) -> list[str]:
    """Input options that seek to `start_s` and read `duration_s` (accurate when re-encoding)."""
    args = []
    start = float(options.get("start_s", 0.0))
    if start > 0:
        args += ["-ss", seconds(start)]
    if "duration_s" in options:
        args += ["-t", seconds(float(options["duration_s"]))]
    return args


def _rate_and_channels(options: Mapping[str, OptionValue]) -> list[str]:
    args = []
    if "sample_rate" in options:
        args += ["-ar", str(options["sample_rate"])]
    if "channels" in options:
        args += ["-ac", str(options["channels"])]
    return args


def nearest_rate(audio: AudioFormat, rate: int) -> int:
    """`rate`, or the closest the format takes when it does not take that one."""
    if not audio.rates or rate in audio.rates:
        return rate
    return min(audio.rates, key=lambda taken: abs(taken - rate))


def extract_audio(request: Request) -> Plan:
    """The first audio track of a video, in the chosen format."""
    (source,) = request.sources
    audio = AUDIO_FORMATS[str(request.options["format"])]
    output = f"output.{audio.extension}"
    argv = (
        *BASE,
        "-i",
        source.name,
        *("-map", "0:a:0", "-vn", "-sn", "-dn"),
        *audio.encoder,
        *_rate_and_channels(request.options),
        *audio.muxer,
        output,
    )
    step = Step(argv, "extract", "extracting audio", source.info.duration_s)
    return Plan((step,), output, MediaKind.AUDIO, audio.mime_type)


def convert_audio(request: Request) -> Plan:
    """Audio re-encoded, optionally trimmed, resampled, remixed and loudness-normalized."""
    (source,) = request.sources
    options = request.options
    audio = AUDIO_FORMATS[str(options["format"])]
    output = f"output.{audio.extension}"
    filters = []
    if options.get("loudnorm"):
        assert source.info.audio is not None  # noqa: S101 - checked before planning
        filters = ["-af", LOUDNORM]
        if "sample_rate" not in options:
            # loudnorm works (and outputs) at 192 kHz: back to the source's rate, as the codec takes it.
            filters += ["-ar", str(nearest_rate(audio, source.info.audio.sample_rate))]
    argv = (
        *BASE,
        *_trim_args(options),
        "-i",
        source.name,
        *("-map", "0:a:0", "-vn", "-sn", "-dn"),
        *filters,
        *audio.encoder,
        *_rate_and_channels(options),
        *audio.muxer,
        output,
    )
    length = _kept_length(source, options)
    label = "normalizing audio" if options.get("loudnorm") else "converting audio"
    return Plan((Step(argv, "encode", label, length),), output, MediaKind.AUDIO, audio.mime_type)


def _optional(options: Mapping[str, OptionValue], name: str) -> float | None:
    return float(options[name]) if name in options else None


def video_codec(options: Mapping[str, OptionValue]) -> str:
    """The video codec a transcode uses: `auto` resolved for the container."""
    codec = str(options.get("video_codec", "auto"))
    if codec != "auto":
        return codec
    return "vp9" if options.get("format") == "webm" else "h264"


def _scale(options: Mapping[str, OptionValue]) -> str:
    """A scale filter that keeps the aspect and leaves even sizes (4:2:0 needs them)."""
    width, height = options.get("width"), options.get("height")
    if width is not None and height is not None:
        box = f"{even(float(width))}:{even(float(height))}"
        return f"scale={box}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    if width is not None:
        return f"scale={even(float(width))}:-2"
    if height is not None:
        return f"scale=-2:{even(float(height))}"
    return "scale=trunc(iw/2)*2:trunc(ih/2)*2"


def _audio_args(container: Container, copying: bool, info: MediaInfo) -> list[str]:
    if info.audio is None:
        return []
    takes = not container.copies_audio or info.audio.codec in container.copies_audio
    encoder = ["-c:a", "copy"] if copying and takes else list(container.audio_encoder)
    return ["-map", "0:a:0", *encoder]


def transcode(request: Request) -> Plan:
    """A video re-encoded (or remuxed with copy), optionally scaled and trimmed."""
    (source,) = request.sources
    options = request.options
    container = CONTAINERS[str(options["format"])]
    codec = video_codec(options)
    copying = codec == "copy"
    video = ["-c:v", "copy"] if copying else ["-vf", _scale(options), *_VIDEO_ENCODERS[codec]]
    output = f"output.{container.extension}"
    argv = (
        *BASE,
        *_trim_args(options),
        "-i",
        source.name,
        *("-map", "0:v:0", *video),
        *_audio_args(container, copying, source.info),
        *("-sn", "-dn"),
        *container.muxer,
        output,
    )
    length = _kept_length(source, options)
    label = "remuxing video" if copying else f"encoding {codec} video"
    step = Step(argv, "encode", label, length)
    return Plan((step,), output, MediaKind.VIDEO, container.mime_type)


def video_encoder(codec: str) -> tuple[str, ...]:
    """The encoder options for one of our video codec names (h264, vp9, mpeg4)."""
    return _VIDEO_ENCODERS[codec]
