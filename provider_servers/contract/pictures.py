"""Pictures for contract cases: known pixels, printed words, big images that take long to edit."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "OCR_LINES",
    "RED_BLUE_LUMA",
    "big_png",
    "long_page_png",
    "open_image",
    "page_png",
    "red_blue_jpeg",
]

# What a page for OCR says, a line at a time.
OCR_LINES = ("Prizm reads printed text", "from images on the CPU", "with seven quick models")
# ITU-R 601 luma of pure red and pure blue: what a grayscale filter makes of them.
RED_BLUE_LUMA = (76, 29)
_MAKE_TAG = 0x010F


def _saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    """Decodes an image fully."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@cache
def red_blue_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    """A JPEG, left half red and right half blue, whose EXIF names a camera."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    pixels[:, size[0] // 2 :] = (0, 0, 255)
    exif = Image.Exif()
    exif[_MAKE_TAG] = "Prizm Test Camera"
    return _saved(Image.fromarray(pixels, "RGB"), "JPEG", quality=95, exif=exif.tobytes())


@cache
def big_png() -> bytes:
    """A 6000x4000 PNG that compresses well (a gradient with bands): long work in little data."""
    xs = np.linspace(0, 255, 6000, dtype=np.float32)[np.newaxis, :]
    ys = np.linspace(0, 255, 4000, dtype=np.float32)[:, np.newaxis]
    red = np.broadcast_to(xs, (4000, 6000))
    green = np.broadcast_to(ys, (4000, 6000))
    blue = np.broadcast_to((ys // 64 * 64) % 256, (4000, 6000))
    pixels = np.stack([red, green, blue], axis=2).astype(np.uint8)
    return _saved(Image.fromarray(pixels, "RGB"), "PNG", compress_level=1)


def page_png(lines: tuple[str, ...], size: tuple[int, int], font_size: int) -> bytes:
    """Black DejaVu Sans text on white, a line at a time with room between lines."""
    font = ImageFont.truetype("DejaVuSans.ttf", font_size)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((font_size, font_size + index * font_size * 2), line, font=font, fill="black")
    return _saved(image, "PNG")


@cache
def long_page_png() -> bytes:
    """A page of sixty lines: many batches of recognition."""
    lines = tuple(f"Line {index}: pack my box with five dozen liquor jugs" for index in range(60))
    return page_png(lines, (1000, 2500), 18)
