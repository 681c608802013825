"""The ffmpeg provider: local audio and video conversions, frames, slideshows and title cards."""

from provider_servers.ffmpeg.provider import FfmpegProvider

__all__ = ["FfmpegProvider"]
