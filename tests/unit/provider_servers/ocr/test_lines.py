"""Recognized lines: the confident ones kept, joined, summarized; work cut into batches."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from provider_servers.ocr.engine import to_bgr
from provider_servers.ocr.lines import Line, batches, confident, summary, transcript

LINES = [Line("first line", 0.98), Line("  ", 0.99), Line("noise", 0.31), Line("second line ", 0.7)]


@pytest.mark.parametrize(
    ("minimum", "texts"),
    [
        (0.0, ["first line", "noise", "second line "]),
        (0.5, ["first line", "second line "]),
        (0.7, ["first line", "second line "]),
        (0.71, ["first line"]),
        (1.0, []),
    ],
)
def test_confident_keeps_lines_with_text_at_or_over_the_minimum(minimum: float, texts: list[str]) -> None:
    assert [line.text for line in confident(LINES, minimum)] == texts


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ([], ""),
        ([Line("one", 1.0)], "one"),
        ([Line(" one ", 1.0), Line("two\t", 1.0)], "one\ntwo"),
        ([Line("中文", 0.9), Line("English", 0.9)], "中文\nEnglish"),
    ],
)
def test_transcript_is_one_line_each(lines: list[Line], text: str) -> None:
    assert transcript(lines) == text


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], {"lines": "0", "mean_confidence": "0.000"}),
        ([Line("a", 0.5)], {"lines": "1", "mean_confidence": "0.500"}),
        ([Line("a", 0.9), Line("b", 0.6), Line("c", 0.6)], {"lines": "3", "mean_confidence": "0.700"}),
    ],
)
def test_summary_counts_and_averages(lines: list[Line], expected: dict[str, str]) -> None:
    assert summary(lines) == expected


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [
        (0, 6, []),
        (5, 6, [range(0, 5)]),
        (6, 6, [range(0, 6)]),
        (13, 6, [range(0, 6), range(6, 12), range(12, 13)]),
        (3, 0, [range(0, 1), range(1, 2), range(2, 3)]),
    ],
)
def test_batches_cover_every_index_once_in_order(count: int, size: int, expected: list[range]) -> None:
    assert list(batches(count, size)) == expected


@pytest.mark.parametrize(
    ("image", "pixel"),
    [
        (Image.new("RGB", (2, 2), (10, 20, 30)), (30, 20, 10)),
        (Image.new("L", (2, 2), 77), (77, 77, 77)),
        (Image.new("RGBA", (2, 2), (10, 20, 30, 0)), (255, 255, 255)),
        (Image.new("LA", (2, 2), (0, 255)), (0, 0, 0)),
    ],
)
def test_to_bgr_swaps_channels_and_lays_transparency_on_white(
    image: Image.Image, pixel: tuple[int, int, int]
) -> None:
    bgr = to_bgr(image)
    assert bgr.shape == (2, 2, 3) and bgr.dtype == np.uint8 and bgr.flags["C_CONTIGUOUS"]
    assert tuple(int(v) for v in bgr[0, 0]) == pixel
