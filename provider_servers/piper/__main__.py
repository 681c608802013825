"""Runs the piper provider: `python -m provider_servers.piper [--port N]`."""

import sys

from provider_servers.piper.provider import PiperProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(PiperProvider))
