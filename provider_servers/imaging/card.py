"""The procedural card: a gradient whose colours come from a hash of the text and seed, with the text
drawn on it. Plain drawing, not a generative model: the same text and seed always give the same card."""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["FONT_NAME", "Palette", "draw_text", "gradient", "load_font", "palette", "wrap_text"]

# Found by Pillow in the system's font folders (Debian: fonts-dejavu-core).
FONT_NAME = "DejaVuSans.ttf"
_MIN_FONT_SIZE = 8
_MARGIN = 0.08
_LINE_SPACING = 1.25
_ELLIPSIS = "…"

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """The colours and direction of one card.

    Attributes:
        start: Colour at the start of the gradient.
        end: Colour at its end.
        angle: Direction of the gradient, in degrees (0 runs left to right).
        ink: Colour of the text: dark on light gradients, light on dark ones.
    """

    start: RGB
    end: RGB
    angle: float
    ink: RGB


def _rgb(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _luma(color: RGB) -> float:
    return 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]


def palette(text: str, seed: int) -> Palette:
    """The card's colours, from SHA-256 of the seed and the text: deterministic, spread over hues."""
    digest = hashlib.sha256(f"{seed}\n{text}".encode()).digest()
    hue = digest[0] / 256
    # The second hue sits 60 to 180 degrees round the wheel, so the two never look alike.
    shift = (60 + digest[1] / 255 * 120) / 360
    start = _rgb(hue, 0.45 + digest[2] / 255 * 0.4, 0.55 + digest[3] / 255 * 0.4)
    end = _rgb(hue + shift, 0.45 + digest[4] / 255 * 0.4, 0.35 + digest[5] / 255 * 0.4)
    angle = digest[6] / 256 * 360
    light = (_luma(start) + _luma(end)) / 2 > 140
    return Palette(start, end, angle, (20, 20, 28) if light else (250, 250, 250))


def gradient(size: tuple[int, int], colors: Palette) -> Image.Image:
    """An RGB image of `size` shading from `colors.start` to `colors.end` along `colors.angle`."""
    width, height = size
    radians = np.radians(colors.angle)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[np.newaxis, :]
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, np.newaxis]
    along = xs * np.float32(np.cos(radians)) + ys * np.float32(np.sin(radians))
    span = float(np.abs(np.cos(radians)) + np.abs(np.sin(radians))) / 2
    t = np.clip(along / span / 2 + 0.5, 0.0, 1.0)[:, :, np.newaxis]
    start = np.asarray(colors.start, dtype=np.float32)
    end = np.asarray(colors.end, dtype=np.float32)
    pixels = np.rint(start + (end - start) * t).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def load_font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at `size` points.

    Raises:
        OSError: The font is not installed.
    """
    return ImageFont.truetype(FONT_NAME, size)


def _break_word(word: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """A word too wide for a line, cut into pieces that fit."""
    pieces, piece = [], ""
    for char in word:
        if piece and font.getlength(piece + char) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece] if piece else pieces


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` in lines no wider than `width` pixels: paragraphs kept, words broken only when too long.

    Args:
        text: The text; newlines start new lines.
        font: The font it will be drawn in.
        width: Widest line, in pixels.
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            *whole, line = _break_word(word, font, width)
            lines.extend(whole)
        lines.append(line)
    return lines


def _fit(text: str, size: tuple[int, int], font_size: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font up to `font_size` at which the wrapped text fits; cut short at the smallest."""
    width = size[0] * (1 - 2 * _MARGIN)
    height = size[1] * (1 - 2 * _MARGIN)
    while True:
        font = load_font(font_size)
        lines = wrap_text(text, font, width)
        fits = len(lines) * font_size * _LINE_SPACING <= height
        if fits or font_size <= _MIN_FONT_SIZE:
            break
        font_size = max(_MIN_FONT_SIZE, int(font_size * 0.85))
    room = max(1, int(height // (font_size * _LINE_SPACING)))
    if len(lines) > room:
        lines = [*lines[: room - 1], lines[room - 1].rstrip() + _ELLIPSIS]
    return font, lines


def draw_text(card: Image.Image, text: str, font_size: int, ink: RGB) -> Image.Image:
    """A copy of `card` with `text` wrapped and centred on it, shrunk to fit if it must be.

    Args:
        card: The background.
        text: What to write.
        font_size: Largest font size to use, in pixels.
        ink: Text colour.
    """
    font, lines = _fit(text, card.size, font_size)
    step = font.size * _LINE_SPACING
    top = (card.height - step * len(lines)) / 2 + step / 2
    shadow = (0, 0, 0, 90) if _luma(ink) > 128 else (255, 255, 255, 90)
    result = card.convert("RGBA")
    layer = Image.new("RGBA", card.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    offset = max(1, font.size // 24)
    for index, line in enumerate(lines):
        position = (card.width / 2, top + index * step)
        draw.text((position[0] + offset, position[1] + offset), line, font=font, fill=shadow, anchor="mm")
        draw.text(position, line, font=font, fill=(*ink, 255), anchor="mm")
    return Image.alpha_composite(result, layer).convert("RGB")
