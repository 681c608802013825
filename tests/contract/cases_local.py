"""Contract cases of the imaging, OCR and espeak providers, one per model."""

from __future__ import annotations

import io
import wave

import numpy as np
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import text_asset
from provider_servers.imaging.card import draw_text, gradient, palette
from provider_servers.imaging.codec import encode
from tests.contract.case import Case
from tests.support.mesh import recognised_words
from tests.support.samples import (
    COUNTING,
    OCR_LINES,
    RED_BLUE_LUMA,
    big_png,
    image_asset,
    long_page_png,
    open_image,
    page_png,
    red_blue_jpeg,
    transcribe,
)

__all__ = ["CASES"]

CARD_TEXT = "Prizm procedural card"
CARD_OPTIONS = {"width": 480, "height": 270, "seed": 7, "font_size": 40}
CROP = {"crop_left": 100, "crop_top": 50, "crop_width": 200, "crop_height": 100}


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


def _check_ocr(data: bytes) -> None:
    """Most words of the page come back."""
    expected = " ".join(OCR_LINES)
    found = recognised_words(expected, data.decode("utf-8"))
    assert found >= 0.8 * len(expected.split()), data


def _check_speech(data: bytes) -> None:
    """A 22.05 kHz mono WAV of plausible length, not silent, in which PocketSphinx hears the numbers."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22_050, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert 1.5 <= seconds <= 8.0, seconds
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 500, "the speech is silent"
    heard = transcribe(data)
    assert recognised_words("one two three four five", heard) >= 3, heard


CASES: dict[str, Case] = {
    "imaging": Case(
        provider="imaging",
        capability=media_pb.CAPABILITY_IMAGE_TO_IMAGE,
        model="pillow-edit",
        sample=lambda: image_asset(red_blue_jpeg(), "image/jpeg"),
        options={**CROP, "filter": "grayscale", "format": "png"},
        long_input=lambda: image_asset(big_png()),
        long_options={"width": 5000, "rotate": 33.0, "filter": "blur", "blur_radius": 6.0},
        check=_check_edit,
        wrong_kind=lambda: text_asset("not an image"),
    ),
    "imaging-card": Case(
        provider="imaging",
        capability=media_pb.CAPABILITY_TEXT_TO_IMAGE,
        model="procedural-card",
        sample=lambda: text_asset(CARD_TEXT),
        options=CARD_OPTIONS,
        long_input=lambda: text_asset(" ".join(["A long card of many words."] * 70)),
        long_options={"width": 4096, "height": 4096, "font_size": 200},
        check=_check_card,
    ),
    "ocr": Case(
        provider="ocr",
        capability=media_pb.CAPABILITY_IMAGE_TO_TEXT,
        sample=lambda: image_asset(page_png(OCR_LINES, (640, 360), 28)),
        long_input=lambda: image_asset(long_page_png()),
        check=_check_ocr,
        wrong_kind=lambda: text_asset("not an image"),
    ),
    "espeak": Case(
        provider="espeak",
        capability=media_pb.CAPABILITY_TEXT_TO_AUDIO,
        sample=lambda: text_asset(COUNTING),
        long_input=lambda: text_asset(" ".join(f"This is sentence number {i}." for i in range(300))),
        check=_check_speech,
    ),
}
