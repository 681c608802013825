"""The OCR provider: printed text out of images with RapidOCR."""

from provider_servers.ocr.provider import OcrProvider

__all__ = ["OcrProvider"]
