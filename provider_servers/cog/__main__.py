"""Runs the Cog provider: `python -m provider_servers.cog [--port N]` with PRIZM_COG_URL set."""

import sys

from provider_servers.cog.provider import CogProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(CogProvider))
