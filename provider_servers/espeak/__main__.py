"""Runs the espeak provider: `python -m provider_servers.espeak [--port N]`."""

import sys

from provider_servers.espeak.provider import EspeakProvider

sys.exit(EspeakProvider.main(sys.argv[1:]))
