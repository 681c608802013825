"""The procedural card: colours from the text and seed, wrapping that fits, the same card every time."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from provider_servers.imaging.card import draw_text, gradient, load_font, palette, wrap_text
from provider_servers.imaging.codec import encode


def _card(text: str, seed: int = 0, size: tuple[int, int] = (320, 180), font_size: int = 32) -> Image.Image:
    colors = palette(text, seed)
    return draw_text(gradient(size, colors), text, font_size, colors.ink)


@pytest.mark.parametrize(("first", "second"), [(("hello", 0), ("hello", 1)), (("hello", 0), ("hullo", 0))])
def test_palette_depends_on_text_and_seed(first: tuple[str, int], second: tuple[str, int]) -> None:
    assert palette(*first) == palette(*first)
    assert palette(*first) != palette(*second)


@pytest.mark.parametrize("seed", range(20))
def test_the_two_colours_differ_and_the_ink_stands_out(seed: int) -> None:
    colors = palette("some card", seed)
    assert sum(abs(a - b) for a, b in zip(colors.start, colors.end, strict=True)) > 60
    luma = [0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] for c in (colors.start, colors.end, colors.ink)]
    assert abs(luma[2] - (luma[0] + luma[1]) / 2) > 60


@pytest.mark.parametrize(("angle", "axis"), [(0.0, "x"), (90.0, "y"), (180.0, "x")])
def test_gradient_runs_from_start_to_end_along_its_angle(angle: float, axis: str) -> None:
    colors = palette("x", 0).__class__(start=(255, 0, 0), end=(0, 0, 255), angle=angle, ink=(0, 0, 0))
    pixels = np.asarray(gradient((64, 48), colors)).astype(int)
    first, last = (pixels[24, 0], pixels[24, -1]) if axis == "x" else (pixels[0, 32], pixels[-1, 32])
    if angle == 180.0:
        first, last = last, first
    assert tuple(first) == (255, 0, 0) and tuple(last) == (0, 0, 255)


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("", 200, [""]),
        ("short", 200, ["short"]),
        ("one two three four five six seven eight", 120, None),
        ("first\nsecond", 500, ["first", "second"]),
        ("a" * 60, 100, None),
    ],
)
def test_wrapped_lines_fit_and_keep_every_word(text: str, width: int, lines: list[str] | None) -> None:
    font = load_font(20)
    wrapped = wrap_text(text, font, width)
    if lines is not None:
        assert wrapped == lines
    assert all(font.getlength(line) <= width for line in wrapped)
    assert "".join(wrapped).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_cards_are_identical_byte_for_byte_for_the_same_text_and_seed() -> None:
    text = "Same text, same card"
    assert encode(_card(text), "png") == encode(_card(text), "png")
    assert encode(_card(text), "png") != encode(_card(text, seed=1), "png")


def test_text_is_drawn_in_the_ink_colour() -> None:
    colors = palette("Ink", 0)
    plain = np.asarray(gradient((320, 180), colors)).astype(int)
    card = np.asarray(_card("Ink")).astype(int)
    changed = np.abs(card - plain).sum(axis=2) > 60
    assert 100 < changed.sum() < 320 * 180 // 4, "the text covers a plausible area"
    inked = (np.abs(card - np.array(colors.ink)).sum(axis=2) < 30).sum()
    assert inked > 50


def test_long_text_is_set_smaller_and_cut_with_an_ellipsis_rather_than_overflowing() -> None:
    long = _card(" ".join(["word"] * 300), size=(160, 90))
    assert long.size == (160, 90)
    round_trip = Image.open(io.BytesIO(encode(long, "png")))
    assert round_trip.size == (160, 90)
