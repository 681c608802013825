"""Runs the ffmpeg provider: `python -m provider_servers.ffmpeg [--port N]`."""

import sys

from provider_servers.ffmpeg.provider import FfmpegProvider

sys.exit(FfmpegProvider.main(sys.argv[1:]))
