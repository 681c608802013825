"""Runs the HTTP API provider: `PRIZM_HTTP_API_CONFIG=api.yaml python -m provider_servers.http_api`."""

import sys

from provider_servers.http_api.provider import HttpApiProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(HttpApiProvider))
