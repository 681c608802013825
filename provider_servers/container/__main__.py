"""Runs a container service: `PRIZM_SERVICE_MANIFEST=PATH python -m provider_servers.container`."""

import sys

from provider_servers.container.provider import ContainerProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(ContainerProvider))
