"""Runs the ffmpeg provider: `python -m provider_servers.ffmpeg [--port N]`."""

import sys

from provider_servers.ffmpeg.provider import FfmpegProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(FfmpegProvider))
