"""Real audio, video and pictures for tests (made by the contract kit's ffmpeg media) as request assets."""

from __future__ import annotations

from prizm.v1 import media_pb2 as media_pb

from provider_servers.contract.ffmedia import (
    TONE_HZ,
    Probed,
    decode_audio,
    decode_frame,
    dominant_hz,
    frames_sha256,
    long_audio,
    long_video,
    loudness_lufs,
    make_file,
    probe_bytes,
    raw_video,
    sample_audio,
    sample_image,
    sample_video,
    short_video,
)

__all__ = [
    "TONE_HZ",
    "Probed",
    "audio_asset",
    "decode_audio",
    "decode_frame",
    "dominant_hz",
    "frames_sha256",
    "image_asset",
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
    "video_asset",
]


def video_asset(data: bytes, mime_type: str = "video/mp4") -> media_pb.Asset:
    """An inline video asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_VIDEO, mime_type=mime_type, data=data)


def audio_asset(data: bytes, mime_type: str = "audio/wav") -> media_pb.Asset:
    """An inline audio asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type=mime_type, data=data)


def image_asset(data: bytes, mime_type: str = "image/png") -> media_pb.Asset:
    """An inline image asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_IMAGE, mime_type=mime_type, data=data)
