"""Runs the imaging provider: `python -m provider_servers.imaging [--port N]`."""

import sys

from provider_servers.imaging.provider import ImagingProvider

sys.exit(ImagingProvider.main(sys.argv[1:]))
