"""Runs the pocketsphinx provider: `python -m provider_servers.pocketsphinx [--port N]`."""

import sys

from provider_servers.pocketsphinx.provider import PocketsphinxProvider

sys.exit(PocketsphinxProvider.main(sys.argv[1:]))
