"""Runs the ElevenLabs provider: `python -m provider_servers.elevenlabs [--port N]`."""

import sys

from provider_servers.elevenlabs.provider import ElevenLabsProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(ElevenLabsProvider))
