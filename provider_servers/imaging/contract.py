"""The contract cases of the imaging provider, one per model (entry point group `prizm.contract`)."""

from __future__ import annotations

import numpy as np

from provider_servers.contract import Case, text_input
from provider_servers.contract.pictures import RED_BLUE_LUMA, big_png, open_image, red_blue_jpeg
from provider_servers.imaging.card import draw_text, gradient, palette
from provider_servers.imaging.codec import encode
from provider_servers.sdk import Capability, InputAsset, MediaKind

__all__ = ["cases"]

CARD_TEXT = "Prizm procedural card"
CARD_OPTIONS = {"width": 480, "height": 270, "seed": 7, "font_size": 40}
CROP = {"crop_left": 100, "crop_top": 50, "crop_width": 200, "crop_height": 100}


def _image(data: bytes, mime_type: str = "image/png") -> InputAsset:
    return InputAsset.inline(MediaKind.IMAGE, mime_type, data)


def _check_edit(data: bytes) -> None:
    """A 200x100 grayscale PNG cut across the red-blue edge: each half the luma of its colour."""
    image = open_image(data)
    assert (image.format, image.size, image.mode) == ("PNG", (200, 100), "L")
    assert not image.getexif(), "metadata is stripped by default"
    pixels = np.asarray(image).astype(int)
    left, right = np.median(pixels[:, :90]), np.median(pixels[:, 110:])
    assert abs(left - RED_BLUE_LUMA[0]) <= 3 and abs(right - RED_BLUE_LUMA[1]) <= 3, (left, right)


def _expected_card() -> bytes:
    colors = palette(CARD_TEXT, CARD_OPTIONS["seed"])
    size = (CARD_OPTIONS["width"], CARD_OPTIONS["height"])
    return encode(draw_text(gradient(size, colors), CARD_TEXT, CARD_OPTIONS["font_size"], colors.ink), "png")


def _check_card(data: bytes) -> None:
    """The card as the same drawing code makes it here, byte for byte, and far from blank."""
    image = open_image(data)
    assert (image.format, image.size, image.mode) == ("PNG", (480, 270), "RGB")
    pixels = np.asarray(image).astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100, "a gradient with text has many colours"
    assert data == _expected_card()


def cases() -> list[Case]:
    """An edit of a red-blue photo, and a procedural card."""
    return [
        Case(
            capability=Capability.IMAGE_TO_IMAGE,
            model="pillow-edit",
            sample=lambda: _image(red_blue_jpeg(), "image/jpeg"),
            options={**CROP, "filter": "grayscale", "format": "png"},
            long_input=lambda: _image(big_png()),
            long_options={"width": 5000, "rotate": 33.0, "filter": "blur", "blur_radius": 6.0},
            check=_check_edit,
            wrong_kind=lambda: text_input("not an image"),
        ),
        Case(
            capability=Capability.TEXT_TO_IMAGE,
            model="procedural-card",
            sample=lambda: text_input(CARD_TEXT),
            options=CARD_OPTIONS,
            long_input=lambda: text_input(" ".join(["A long card of many words."] * 70)),
            long_options={"width": 4096, "height": 4096, "font_size": 200},
            check=_check_card,
        ),
    ]
