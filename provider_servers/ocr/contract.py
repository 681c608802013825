"""The contract cases of the OCR provider (entry point group `prizm.contract`)."""

from __future__ import annotations

from provider_servers.contract import Case, text_input
from provider_servers.contract.pictures import OCR_LINES, long_page_png, page_png
from provider_servers.contract.speech import recognised_words
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["cases"]


def _image(data: bytes) -> InputAsset:
    return InputAsset.inline(MediaKind.IMAGE, "image/png", data)


def _check_ocr(data: bytes) -> None:
    """Most words of the page come back."""
    expected = " ".join(OCR_LINES)
    found = recognised_words(expected, data.decode("utf-8"))
    assert found >= 0.8 * len(expected.split()), data


def cases() -> list[Case]:
    """A page of three lines, and one of sixty to cancel."""
    return [
        Case(
            capability=Capability.IMAGE_TO_TEXT,
            sample=lambda: _image(page_png(OCR_LINES, (640, 360), 28)),
            long_input=lambda: _image(long_page_png()),
            check=_check_ocr,
            wrong_kind=lambda: text_input("not an image"),
        )
    ]
