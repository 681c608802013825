"""ffprobe's JSON read into MediaInfo: durations, first streams, cover art, stills, refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from provider_servers.ffmpeg.probe import (
    AudioStream,
    MediaInfo,
    ProbeError,
    VideoStream,
    parse_probe,
    probe,
    probe_sync,
)

H264 = {
    "codec_type": "video",
    "codec_name": "h264",
    "width": 320,
    "height": 240,
    "avg_frame_rate": "25/1",
    "r_frame_rate": "25/1",
    "duration": "3.000000",
    "disposition": {"attached_pic": 0},
}
AAC = {"codec_type": "audio", "codec_name": "aac", "sample_rate": "44100", "channels": 1, "duration": "3.019"}
COVER = {
    "codec_type": "video",
    "codec_name": "png",
    "width": 500,
    "height": 500,
    "disposition": {"attached_pic": 1},
}


def _json(format_fields: dict[str, Any], *streams: dict[str, Any]) -> str:
    return json.dumps({"format": format_fields, "streams": list(streams)})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _json({"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "3.019000"}, H264, AAC),
            MediaInfo(
                "mov,mp4,m4a,3gp,3g2,mj2",
                3.019,
                VideoStream("h264", 320, 240, 25.0),
                AudioStream("aac", 44100, 1),
            ),
        ),
        # No container duration: the longest stream's.
        (
            _json({"format_name": "matroska,webm"}, H264, AAC),
            MediaInfo(
                "matroska,webm", 3.019, VideoStream("h264", 320, 240, 25.0), AudioStream("aac", 44100, 1)
            ),
        ),
        # An mp3's cover art is not a video.
        (
            _json({"format_name": "mp3", "duration": "60.0"}, COVER, {**AAC, "codec_name": "mp3"}),
            MediaInfo("mp3", 60.0, None, AudioStream("mp3", 44100, 1)),
        ),
        # A still picture has no duration, whatever a stream says.
        (
            _json(
                {"format_name": "png_pipe"},
                {
                    "codec_type": "video",
                    "codec_name": "png",
                    "width": 64,
                    "height": 48,
                    "r_frame_rate": "25/1",
                },
            ),
            MediaInfo("png_pipe", None, VideoStream("png", 64, 48, 25.0), None),
        ),
        # Unknown rates and durations are None, not errors.
        (
            _json(
                {"format_name": "avi", "duration": "N/A"},
                {**H264, "avg_frame_rate": "0/0", "r_frame_rate": "0/0", "duration": "N/A"},
            ),
            MediaInfo("avi", None, VideoStream("h264", 320, 240, None), None),
        ),
    ],
)
def test_parse_probe(text: str, expected: MediaInfo) -> None:
    assert parse_probe(text) == expected


def test_stills_are_told_from_videos() -> None:
    still = parse_probe(_json({"format_name": "jpeg_pipe"}, {**H264, "codec_name": "mjpeg"}))
    assert still.is_still
    assert not parse_probe(_json({"format_name": "gif", "duration": "0.1"}, H264)).is_still
    assert not parse_probe(_json({"format_name": "wav", "duration": "1"}, AAC)).is_still


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not a media file ffmpeg can read"),
        ("{", "unreadable ffprobe output"),
        (_json({"format_name": "tty"}), "holds no audio or video stream"),
        (
            _json({"format_name": "data"}, {"codec_type": "data", "codec_name": "bin_data"}),
            "no audio or video",
        ),
    ],
)
def test_what_is_not_media_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ProbeError, match=problem):
        parse_probe(text)


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "tone.wav"
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "0.5", str(path)]
    subprocess.run(command, check=True)
    return path


def test_probe_sync_reads_a_real_file(tone: Path) -> None:
    assert probe_sync(tone) == MediaInfo("wav", 0.5, None, AudioStream("pcm_s16le", 8000, 1))


async def test_probe_reads_a_real_file_off_the_loop(tone: Path) -> None:
    assert await probe(tone) == probe_sync(tone)


@pytest.mark.parametrize("blocking", [True, False])
async def test_an_unreadable_file_is_refused_without_its_path(tmp_path: Path, blocking: bool) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"not media at all" * 64)
    with pytest.raises(ProbeError) as caught:
        probe_sync(path) if blocking else await probe(path)
    assert str(caught.value) == "Invalid data found when processing input"
