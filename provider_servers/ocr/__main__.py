"""Runs the OCR provider: `python -m provider_servers.ocr [--port N]`."""

import sys

from provider_servers.ocr.provider import OcrProvider
from provider_servers.sdk import run_provider

sys.exit(run_provider(OcrProvider))
