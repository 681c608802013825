"""Runs the synthetic provider: `python -m provider_servers.synthetic [--port N]`."""

import sys

from provider_servers.synthetic.provider import SyntheticProvider

sys.exit(SyntheticProvider.main(sys.argv[1:]))
