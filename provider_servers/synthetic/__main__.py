"""Runs the synthetic provider: `python -m provider_servers.synthetic [--port N]`."""

import sys

from provider_servers.sdk import run_provider
from provider_servers.synthetic.provider import SyntheticProvider

sys.exit(run_provider(SyntheticProvider))
