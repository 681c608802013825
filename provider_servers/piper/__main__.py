"""Runs the piper provider: `python -m provider_servers.piper [--port N]`."""

import sys

from provider_servers.piper.provider import PiperProvider

sys.exit(PiperProvider.main(sys.argv[1:]))
