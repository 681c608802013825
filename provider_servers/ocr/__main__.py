"""Runs the OCR provider: `python -m provider_servers.ocr [--port N]`."""

import sys

from provider_servers.ocr.provider import OcrProvider

sys.exit(OcrProvider.main(sys.argv[1:]))
