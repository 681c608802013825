"""Runs the fal provider: `python -m provider_servers.fal [--port N]` (needs `FAL_KEY`)."""

import sys

from provider_servers.fal.provider import FalProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(FalProvider))
