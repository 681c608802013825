"""Command lines of the audio and transcode models, from options (defaults filled in) and probes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prizm.v1 import media_pb2 as media_pb

from provider_servers.ffmpeg.commands import (
    AUDIO_FORMATS,
    BASE,
    LOUDNORM,
    Plan,
    Request,
    Source,
    convert_audio,
    escape_filter_value,
    even,
    extract_audio,
    nearest_rate,
    seconds,
    transcode,
    trimmed_length,
    video_codec,
)
from provider_servers.ffmpeg.models import CONVERT_AUDIO, EXTRACT_AUDIO, TRANSCODE
from provider_servers.ffmpeg.probe import AudioStream, MediaInfo, VideoStream
from provider_servers.sdk import ModelSpec
from provider_servers.sdk.options import resolve_options

CLIP = MediaInfo(
    "mov,mp4,m4a,3gp,3g2,mj2", 10.0, VideoStream("h264", 640, 360, 25.0), AudioStream("aac", 96000, 2)
)
SILENT = MediaInfo("matroska,webm", 10.0, VideoStream("vp9", 640, 360, 25.0), None)
SONG = MediaInfo("flac", 240.0, None, AudioStream("flac", 96000, 2))


def _plan(model: ModelSpec, info: MediaInfo, **options: object) -> Plan:
    resolved = resolve_options(model.parameters, options)
    builder = {EXTRACT_AUDIO.id: extract_audio, CONVERT_AUDIO.id: convert_audio, TRANSCODE.id: transcode}
    return builder[model.id](Request(resolved, (Source("source-0", info),)))


def _after(argv: Sequence[str], flag: str) -> str | None:
    """The value that follows `flag` (its last occurrence), or None when it is not there."""
    spots = [index for index, arg in enumerate(argv) if arg == flag]
    return argv[spots[-1] + 1] if spots else None


def test_every_run_reports_progress_on_stdout_and_only_errors_on_stderr() -> None:
    argv = _plan(EXTRACT_AUDIO, CLIP).steps[0].argv
    assert argv[: len(BASE)] == BASE
    assert (argv[7], argv[8]) == ("-progress", "pipe:1") and "-nostats" in argv
    assert _after(argv, "-loglevel") == "error"


@pytest.mark.parametrize(
    ("audio_format", "encoder", "muxer", "output", "mime"),
    [
        ("wav", "pcm_s16le", "wav", "output.wav", "audio/wav"),
        ("mp3", "libmp3lame", "mp3", "output.mp3", "audio/mpeg"),
        ("flac", "flac", "flac", "output.flac", "audio/flac"),
        ("ogg", "libvorbis", "ogg", "output.ogg", "audio/ogg"),
        ("m4a", "aac", "ipod", "output.m4a", "audio/mp4"),
    ],
)
def test_extract_audio_formats(audio_format: str, encoder: str, muxer: str, output: str, mime: str) -> None:
    plan = _plan(EXTRACT_AUDIO, CLIP, format=audio_format)
    (step,) = plan.steps
    assert (_after(step.argv, "-c:a"), _after(step.argv, "-f"), step.argv[-1]) == (encoder, muxer, output)
    assert (plan.output, plan.mime_type, plan.kind) == (output, mime, media_pb.MEDIA_KIND_AUDIO)
    assert (
        _after(step.argv, "-i") == "source-0" and _after(step.argv, "-map") == "0:a:0" and "-vn" in step.argv
    )
    assert step.expected_s == 10.0


@pytest.mark.parametrize(
    ("options", "rate", "channels"),
    [
        ({}, None, None),
        ({"sample_rate": 16000}, "16000", None),
        ({"channels": 1, "sample_rate": 8000}, "8000", "1"),
    ],
)
def test_extract_audio_keeps_rate_and_channels_unless_asked(
    options: dict[str, object], rate: str | None, channels: str | None
) -> None:
    argv = _plan(EXTRACT_AUDIO, CLIP, **options).steps[0].argv
    assert (_after(argv, "-ar"), _after(argv, "-ac")) == (rate, channels)


@pytest.mark.parametrize(
    ("options", "seek", "read", "expected_s"),
    [
        ({}, None, None, 240.0),
        ({"start_s": 30.0}, "30", None, 210.0),
        ({"duration_s": 12.5}, None, "12.5", 12.5),
        ({"start_s": 235.0, "duration_s": 12.5}, "235", "12.5", 5.0),
    ],
)
def test_convert_audio_trims_by_seeking_the_input(
    options: dict[str, object], seek: str | None, read: str | None, expected_s: float
) -> None:
    (step,) = _plan(CONVERT_AUDIO, SONG, **options).steps
    inputs_at = step.argv.index("-i")
    assert (_after(step.argv[:inputs_at], "-ss"), _after(step.argv[:inputs_at], "-t")) == (seek, read)
    assert step.expected_s == pytest.approx(expected_s)


@pytest.mark.parametrize(
    ("options", "rate"),
    [
        ({"format": "wav"}, "96000"),  # back from loudnorm's 192 kHz to the source's rate
        ({"format": "mp3"}, "48000"),  # ...or the nearest the codec takes
        ({"format": "mp3", "sample_rate": 22050}, "22050"),  # ...unless a rate is asked for
    ],
)
def test_loudnorm_normalizes_to_ebu_r128_and_restores_the_rate(options: dict[str, object], rate: str) -> None:
    (step,) = _plan(CONVERT_AUDIO, SONG, loudnorm=True, **options).steps
    assert _after(step.argv, "-af") == LOUDNORM == "loudnorm=I=-16:TP=-1.5:LRA=11"
    assert _after(step.argv, "-ar") == rate
    assert step.label == "normalizing audio"


def test_no_loudnorm_no_filter() -> None:
    (step,) = _plan(CONVERT_AUDIO, SONG).steps
    assert "-af" not in step.argv and _after(step.argv, "-ar") is None


@pytest.mark.parametrize(
    ("options", "scale"),
    [
        ({}, "scale=trunc(iw/2)*2:trunc(ih/2)*2"),
        ({"width": 320}, "scale=320:-2"),
        ({"width": 321}, "scale=320:-2"),
        ({"height": 181}, "scale=-2:180"),
        (
            {"width": 300, "height": 300},
            "scale=300:300:force_original_aspect_ratio=decrease:force_divisible_by=2",
        ),
    ],
)
def test_transcode_scales_keeping_aspect_and_even_sizes(options: dict[str, object], scale: str) -> None:
    argv = _plan(TRANSCODE, CLIP, **options).steps[0].argv
    assert _after(argv, "-vf") == scale


@pytest.mark.parametrize(
    ("options", "encoder", "audio", "muxer", "mime"),
    [
        ({}, "libx264", "aac", "mp4", "video/mp4"),
        ({"format": "webm"}, "libvpx-vp9", "libopus", "webm", "video/webm"),
        ({"format": "mkv"}, "libx264", "aac", "matroska", "video/x-matroska"),
        ({"format": "mkv", "video_codec": "vp9"}, "libvpx-vp9", "aac", "matroska", "video/x-matroska"),
        ({"video_codec": "mpeg4"}, "mpeg4", "aac", "mp4", "video/mp4"),
        ({"video_codec": "copy"}, "copy", "copy", "mp4", "video/mp4"),  # mp4 takes AAC as is
        ({"format": "mkv", "video_codec": "copy"}, "copy", "copy", "matroska", "video/x-matroska"),
    ],
)
def test_transcode_codecs_and_containers(
    options: dict[str, object], encoder: str, audio: str, muxer: str, mime: str
) -> None:
    plan = _plan(TRANSCODE, CLIP, **options)
    argv = plan.steps[0].argv
    assert (_after(argv, "-c:v"), _after(argv, "-c:a"), _after(argv, "-f")) == (encoder, audio, muxer)
    assert plan.mime_type == mime and plan.kind == media_pb.MEDIA_KIND_VIDEO


def test_copy_remuxes_without_filters_and_reencodes_audio_the_container_cannot_take() -> None:
    argv = (
        _plan(
            TRANSCODE,
            SILENT.__class__(SILENT.format_name, 10.0, SILENT.video, AudioStream("flac", 48000, 2)),
            format="webm",
            video_codec="copy",
        )
        .steps[0]
        .argv
    )
    assert _after(argv, "-c:v") == "copy" and "-vf" not in argv
    assert _after(argv, "-c:a") == "libopus"


def test_a_video_without_sound_maps_no_audio() -> None:
    argv = _plan(TRANSCODE, SILENT).steps[0].argv
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-map"] == ["0:v:0"]
    assert "-c:a" not in argv


def test_transcode_trims_and_expects_the_trimmed_length() -> None:
    (step,) = _plan(TRANSCODE, CLIP, start_s=8.0, duration_s=5.0).steps
    assert step.argv[step.argv.index("-i") - 4 : step.argv.index("-i")] == ("-ss", "8", "-t", "5")
    assert step.expected_s == 2.0


@pytest.mark.parametrize(
    ("options", "codec"), [({}, "h264"), ({"format": "webm"}, "vp9"), ({"video_codec": "copy"}, "copy")]
)
def test_auto_codec_follows_the_container(options: dict[str, object], codec: str) -> None:
    assert video_codec(resolve_options(TRANSCODE.parameters, options)) == codec


@pytest.mark.parametrize(
    ("total", "start", "duration", "left"),
    [
        (10.0, 0.0, None, 10.0),
        (10.0, 4.0, None, 6.0),
        (10.0, 4.0, 2.0, 2.0),
        (10.0, 12.0, None, 0.0),
        (None, 3.0, 2.0, 2.0),
        (None, 0.0, None, None),
    ],
)
def test_trimmed_length(
    total: float | None, start: float, duration: float | None, left: float | None
) -> None:
    assert trimmed_length(total, start, duration) == left


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0"), (1.5, "1.5"), (2.0, "2"), (1 / 3, "0.333333"), (1e-7, "0")]
)
def test_seconds(value: float, text: str) -> None:
    assert seconds(value) == text


@pytest.mark.parametrize(("value", "rounded"), [(320, 320), (321, 320), (1, 2), (0.5, 2), (1919.9, 1918)])
def test_even(value: float, rounded: int) -> None:
    assert even(value) == rounded


@pytest.mark.parametrize(
    ("audio", "rate", "chosen"),
    [
        ("wav", 96000, 96000),
        ("mp3", 96000, 48000),
        ("mp3", 44100, 44100),
        ("mp3", 45000, 44100),
        ("m4a", 192000, 96000),
    ],
)
def test_nearest_rate(audio: str, rate: int, chosen: int) -> None:
    assert nearest_rate(AUDIO_FORMATS[audio], rate) == chosen


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        (
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        ),
        ("a:b", "a\\\\:b"),
        ("it's", "it\\\\\\'s"),
        ("x,y;[z]", "x\\,y\\;\\[z\\]"),
        ("back\\slash", "back\\\\\\\\slash"),
    ],
)
def test_escape_filter_value_escapes_both_levels(value: str, escaped: str) -> None:
    assert escape_filter_value(value) == escaped
