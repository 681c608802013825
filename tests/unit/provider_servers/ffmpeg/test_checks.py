"""Checks beyond the schema: clashing options, and options against what the probe found."""

from __future__ import annotations

import pytest

from provider_servers.ffmpeg.checks import OPTION_CHECKS, STREAM_CHECKS
from provider_servers.ffmpeg.models import MODELS
from provider_servers.ffmpeg.probe import AudioStream, MediaInfo, VideoStream
from provider_servers.sdk.options import resolve_options

CLIP = MediaInfo(
    "mov,mp4,m4a,3gp,3g2,mj2", 3.0, VideoStream("h264", 320, 240, 25.0), AudioStream("aac", 44100, 1)
)
VP9 = MediaInfo("matroska,webm", 3.0, VideoStream("vp9", 320, 240, 25.0), None)
TONE = MediaInfo("wav", 3.0, None, AudioStream("pcm_s16le", 44100, 2))
PNG = MediaInfo("png_pipe", None, VideoStream("png", 64, 48), None)
ENDLESS = MediaInfo("mpegts", None, VideoStream("h264", 320, 240, 25.0), None)
BY_ID = {model.id: model for model in MODELS}
MP3_RATES = "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000"
COLORS = (
    "white, black, gray, silver, red, maroon, orange, yellow, gold, olive, lime, green, teal, cyan, "
    "blue, navy, purple, magenta, pink, brown"
)


def _problems(model: str, options: dict[str, object], *infos: MediaInfo) -> dict[str, str]:
    resolved = resolve_options(BY_ID[model].parameters, options)
    found = OPTION_CHECKS[model](resolved)
    if not found and model in STREAM_CHECKS:
        found = STREAM_CHECKS[model](resolved, infos)
    return dict(found)


def test_every_model_has_its_checks() -> None:
    assert set(OPTION_CHECKS) == set(BY_ID)
    assert set(STREAM_CHECKS) == set(BY_ID) - {"title-card"}


@pytest.mark.parametrize(
    ("model", "options", "infos", "problems"),
    [
        ("extract-audio", {}, (CLIP,), {}),
        ("extract-audio", {"format": "mp3", "sample_rate": 48000}, (CLIP,), {}),
        (
            "extract-audio",
            {"format": "mp3", "sample_rate": 96000},
            (CLIP,),
            {"options.sample_rate": f"mp3 takes one of {MP3_RATES} Hz"},
        ),
        ("extract-audio", {"format": "flac", "sample_rate": 192000}, (CLIP,), {}),
        ("extract-audio", {}, (VP9,), {"inputs[0].data": "has no audio stream"}),
        ("convert-audio", {"start_s": 2.9, "duration_s": 5.0}, (TONE,), {}),
        (
            "convert-audio",
            {"start_s": 3.0},
            (TONE,),
            {"options.start_s": "is past the end of the input (3.000 s)"},
        ),
        ("convert-audio", {"format": "wav"}, (VP9,), {"inputs[0].data": "has no audio stream"}),
        (
            "convert-audio",
            {"format": "mp3", "sample_rate": 8000},
            (TONE,),
            {},
        ),
        ("transcode", {"format": "webm"}, (CLIP,), {}),
        (
            "transcode",
            {"format": "webm", "video_codec": "h264"},
            (CLIP,),
            {"options.video_codec": "webm takes vp9, copy"},
        ),
        ("transcode", {"format": "webm", "video_codec": "copy"}, (VP9,), {}),
        (
            "transcode",
            {"format": "webm", "video_codec": "copy"},
            (CLIP,),
            {"options.video_codec": "a h264 stream cannot be copied into webm"},
        ),
        ("transcode", {"format": "mkv", "video_codec": "copy"}, (CLIP,), {}),
        (
            "transcode",
            {"video_codec": "copy", "height": 120},
            (CLIP,),
            {"options.video_codec": "copy cannot scale; leave out width and height, or re-encode"},
        ),
        ("transcode", {}, (TONE,), {"inputs[0].data": "has no video stream"}),
        ("transcode", {}, (PNG,), {"inputs[0].data": "has no video stream"}),
        (
            "transcode",
            {"start_s": 10.0},
            (CLIP,),
            {"options.start_s": "is past the end of the input (3.000 s)"},
        ),
        ("frames", {"at_s": 2.99}, (CLIP,), {}),
        ("frames", {"at_s": 3.0}, (CLIP,), {"options.at_s": "is past the end of the video (3.000 s)"}),
        ("frames", {"at_s": 99.0}, (ENDLESS,), {}),
        ("frames", {"mode": "contact_sheet"}, (CLIP,), {}),
        (
            "frames",
            {"mode": "contact_sheet"},
            (ENDLESS,),
            {"inputs[0].data": "has no known duration to spread a contact sheet over"},
        ),
        ("frames", {}, (TONE,), {"inputs[0].data": "has no video stream"}),
        ("slideshow", {}, (PNG, PNG), {}),
        ("slideshow", {}, (PNG, CLIP, PNG), {"inputs[1].data": "is not a still image"}),
        (
            "slideshow",
            {"duration_s": 0.5, "fps": 2},
            (PNG, PNG),
            {"options.duration_s": "must give each image a frame at least: 1 s or more"},
        ),
        ("title-card", {"text_color": "#A0b1C2", "background_color": "Navy"}, (), {}),
        (
            "title-card",
            {"text_color": "#abc"},
            (),
            {"options.text_color": f"must be #RRGGBB or one of {COLORS}"},
        ),
    ],
)
def test_checks(
    model: str, options: dict[str, object], infos: tuple[MediaInfo, ...], problems: dict[str, str]
) -> None:
    assert _problems(model, options, *infos) == problems


@pytest.mark.parametrize("color", ["red:fontsize=400", "white,drawbox", "#12345", "#1234567", "0xffffff", ""])
def test_colors_that_could_reach_the_filter_graph_are_refused(color: str) -> None:
    assert "options.background_color" in _problems("title-card", {"background_color": color})
