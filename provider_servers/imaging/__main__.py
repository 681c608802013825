"""Runs the imaging provider: `python -m provider_servers.imaging [--port N]`."""

import sys

from provider_servers.imaging.provider import ImagingProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(ImagingProvider))
