"""Runs the espeak provider: `python -m provider_servers.espeak [--port N]`."""

import sys

from provider_servers.espeak.provider import EspeakProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(EspeakProvider))
