"""Runs the Replicate provider: `python -m provider_servers.replicate [--port N]`."""

import sys

from provider_servers.replicate.provider import ReplicateProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(ReplicateProvider))
