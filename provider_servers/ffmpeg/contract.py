"""The contract cases of the ffmpeg provider, one per model (entry point group `prizm.contract`)."""

from __future__ import annotations

import io
import itertools
import wave

import numpy as np

from provider_servers.contract import Case, text_input
from provider_servers.contract.ffmedia import (
    TONE_HZ,
    decode_audio,
    decode_frame,
    dominant_hz,
    long_audio,
    long_video,
    loudness_lufs,
    probe_bytes,
    sample_audio,
    sample_image,
    sample_video,
    short_video,
)
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["TITLE", "cases"]

TITLE = "Prizm title card"
# The tiled contact sheet of the sample: 3 x 2 frames 96 x 72, 4 px between them and around.
SHEET_COLUMNS, SHEET_ROWS, TILE_WIDTH = 3, 2, 96


def _check_soundtrack(data: bytes) -> None:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (44100, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(seconds - 3.0) < 0.1, seconds
    assert abs(dominant_hz(decode_audio(data)) - TONE_HZ) < 5


def _check_converted(data: bytes) -> None:
    found = probe_bytes(data)
    assert found.audio["codec_name"] == "mp3"
    assert (int(found.audio["sample_rate"]), found.audio["channels"]) == (22050, 1)
    assert abs(found.duration_s - 2.0) < 0.1, found.duration_s
    assert abs(dominant_hz(decode_audio(data)) - TONE_HZ) < 5
    # The tone is made at -21 LUFS; normalized, it is near the -16 LUFS target.
    assert abs(loudness_lufs(data) + 16.0) < 1.5, loudness_lufs(data)


def _check_transcoded(data: bytes) -> None:
    found = probe_bytes(data)
    assert found.format["format_name"].startswith("matroska")
    assert found.video["codec_name"] == "vp9" and found.size == (160, 120)
    assert found.audio["codec_name"] == "opus"
    assert abs(found.duration_s - 1.5) < 0.1, found.duration_s
    assert abs(found.frames - 1.5 * 25) <= 2, found.frames


def _check_contact_sheet(data: bytes) -> None:
    assert data.startswith(b"\x89PNG")
    sheet = decode_frame(data)
    tile_height = TILE_WIDTH * 3 // 4
    assert sheet.shape == (
        SHEET_ROWS * tile_height + (SHEET_ROWS + 1) * 4,
        SHEET_COLUMNS * TILE_WIDTH + (SHEET_COLUMNS + 1) * 4,
        3,
    )
    top = [4 + row * (tile_height + 4) for row in range(SHEET_ROWS)]
    left = [4 + column * (TILE_WIDTH + 4) for column in range(SHEET_COLUMNS)]
    tiles = [sheet[y : y + tile_height, x : x + TILE_WIDTH].astype(int) for y in top for x in left]
    assert all(tile.std() > 20 for tile in tiles), "every tile holds a picture"
    differences = [np.abs(a - b).mean() for a, b in itertools.pairwise(tiles)]
    assert min(differences) > 1, "tiles are frames from different times"


def _check_still(data: bytes) -> None:
    found = probe_bytes(data)
    assert found.video["codec_name"] == "h264" and found.size == (320, 240)
    assert abs(found.duration_s - 2.0) < 0.1 and found.frames == 20, (found.duration_s, found.frames)
    source = decode_frame(sample_image()).astype(int)
    for at in (0.1, 1.9):
        assert np.abs(decode_frame(data, at).astype(int) - source).mean() < 8, "the video shows the image"


def _check_title_card(data: bytes) -> None:
    found = probe_bytes(data)
    assert found.video["codec_name"] == "h264" and found.size == (320, 180)
    assert abs(found.duration_s - 1.0) < 0.1 and found.frames == 10, (found.duration_s, found.frames)
    frame = decode_frame(data, 0.5)
    text = frame.min(axis=2) > 128  # white letters on black
    assert 300 < text.sum() < 0.3 * text.size, text.sum()
    rows, columns = np.nonzero(text)
    assert 40 < columns.mean() < 280 and 50 < rows.mean() < 130, "the text is centered"
    assert frame[:10].max() < 40, "the background is black"


def _video(data: bytes, mime_type: str = "video/mp4") -> InputAsset:
    return InputAsset.inline(MediaKind.VIDEO, mime_type, data)


def _audio(data: bytes, mime_type: str = "audio/wav") -> InputAsset:
    return InputAsset.inline(MediaKind.AUDIO, mime_type, data)


def _image(data: bytes) -> InputAsset:
    return InputAsset.inline(MediaKind.IMAGE, "image/png", data)


def _text() -> InputAsset:
    return text_input(TITLE)


def cases() -> list[Case]:
    """One case per model."""
    return [
        Case(
            capability=Capability.VIDEO_TO_AUDIO,
            model="extract-audio",
            sample=lambda: _video(sample_video()),
            long_input=lambda: _video(long_video(), "video/x-matroska"),
            long_options={"format": "mp3", "sample_rate": 48000},
            check=_check_soundtrack,
        ),
        Case(
            capability=Capability.AUDIO_TO_AUDIO,
            model="convert-audio",
            sample=lambda: _audio(sample_audio()),
            options={
                "format": "mp3",
                "sample_rate": 22050,
                "channels": 1,
                "start_s": 0.5,
                "duration_s": 2.0,
                "loudnorm": True,
            },
            long_input=lambda: _audio(long_audio(), "audio/flac"),
            long_options={"format": "mp3", "sample_rate": 48000, "loudnorm": True},
            check=_check_converted,
            wrong_kind=lambda: _video(sample_video()),
        ),
        Case(
            capability=Capability.VIDEO_TO_VIDEO,
            model="transcode",
            sample=lambda: _video(sample_video()),
            options={"format": "webm", "width": 160, "start_s": 1.0, "duration_s": 1.5},
            long_input=lambda: _video(short_video()),
            long_options={"format": "webm", "width": 1920},
            check=_check_transcoded,
        ),
        Case(
            capability=Capability.VIDEO_TO_IMAGE,
            model="frames",
            sample=lambda: _video(sample_video()),
            options={
                "mode": "contact_sheet",
                "columns": SHEET_COLUMNS,
                "rows": SHEET_ROWS,
                "tile_width": TILE_WIDTH,
            },
            long_input=lambda: _video(long_video(), "video/x-matroska"),
            long_options={"mode": "contact_sheet", "columns": 12, "rows": 12, "tile_width": 1024},
            check=_check_contact_sheet,
        ),
        Case(
            capability=Capability.IMAGE_TO_VIDEO,
            model="slideshow",
            sample=lambda: _image(sample_image()),
            options={"duration_s": 2.0, "fps": 10},
            long_input=lambda: _image(sample_image()),
            long_options={"duration_s": 600.0, "fps": 60, "width": 1920, "height": 1080},
            check=_check_still,
            wrong_kind=lambda: text_input("not a picture"),
        ),
        Case(
            capability=Capability.TEXT_TO_VIDEO,
            model="title-card",
            sample=_text,
            options={"duration_s": 1.0, "width": 320, "height": 180, "font_size": 32, "fps": 10},
            long_input=_text,
            long_options={"duration_s": 600.0, "width": 1920, "height": 1080, "fps": 60},
            check=_check_title_card,
        ),
    ]
