"""Runs the pocketsphinx provider: `python -m provider_servers.pocketsphinx [--port N]`."""

import sys

from provider_servers.pocketsphinx.provider import PocketsphinxProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(PocketsphinxProvider))
