"""Runs the openai provider: `python -m provider_servers.openai [--port N]` (needs OPENAI_API_KEY)."""

import sys

from provider_servers.openai.provider import OpenAIProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(OpenAIProvider))
