"""Inputs for the imaging, OCR and espeak tests (the contract kit's pictures and speech) as assets."""

from __future__ import annotations

from prizm.v1 import media_pb2 as media_pb

from provider_servers.contract.pictures import (
    OCR_LINES,
    RED_BLUE_LUMA,
    big_png,
    long_page_png,
    open_image,
    page_png,
    red_blue_jpeg,
)
from provider_servers.contract.speech import COUNTING, transcribe

__all__ = [
    "COUNTING",
    "OCR_LINES",
    "RED_BLUE_LUMA",
    "big_png",
    "image_asset",
    "long_page_png",
    "open_image",
    "page_png",
    "red_blue_jpeg",
    "transcribe",
]


def image_asset(data: bytes, mime_type: str = "image/png") -> media_pb.Asset:
    """An inline image asset."""
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_IMAGE, mime_type=mime_type, data=data)
