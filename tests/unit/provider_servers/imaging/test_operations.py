"""Image operations: planned from options against the input size, applied to real pixels."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from PIL import Image

from prizm_core.errors import PrizmError
from provider_servers.imaging.operations import (
    Crop,
    Filter,
    Operation,
    Resize,
    Rotate,
    apply,
    plan_operations,
    size_after,
)
from provider_servers.sdk import OptionValue

LIMIT = 40_000_000


@pytest.mark.parametrize(
    ("options", "size", "planned"),
    [
        ({}, (400, 300), []),
        ({"rotate": 0.0, "filter": "none"}, (400, 300), []),
        ({"width": 200}, (400, 300), [Resize(200, 150)]),
        ({"height": 100}, (400, 300), [Resize(133, 100)]),
        ({"width": 50, "height": 50}, (400, 300), [Resize(50, 50)]),
        ({"width": 400}, (400, 300), []),
        ({"width": 1}, (400, 3), [Resize(1, 1)]),
        (
            {"crop_left": 10, "crop_top": 20, "crop_width": 30, "crop_height": 40},
            (400, 300),
            [Crop(10, 20, 30, 40)],
        ),
        ({"crop_left": 100}, (400, 300), [Crop(100, 0, 300, 300)]),
        ({"crop_height": 10}, (400, 300), [Crop(0, 0, 400, 10)]),
        ({"crop_left": 0, "crop_top": 0, "crop_width": 400, "crop_height": 300}, (400, 300), []),
        # Resize applies to the cropped box, keeping its aspect ratio.
        (
            {"crop_width": 100, "crop_height": 50, "width": 20},
            (400, 300),
            [Crop(0, 0, 100, 50), Resize(20, 10)],
        ),
        ({"rotate": 90.0}, (400, 300), [Rotate(90.0, True)]),
        ({"rotate": -90.0, "expand": False}, (400, 300), [Rotate(270.0, False)]),
        ({"rotate": 360.0}, (400, 300), []),
        ({"filter": "blur", "blur_radius": 3.5}, (400, 300), [Filter("blur", 3.5)]),
        (
            {"filter": "grayscale", "rotate": 45.0, "width": 40, "crop_left": 1},
            (400, 300),
            [Crop(1, 0, 399, 300), Resize(40, 30), Rotate(45.0, True), Filter("grayscale", 2.0)],
        ),
    ],
)
def test_plan_follows_the_options_in_a_fixed_order(
    options: dict[str, OptionValue], size: tuple[int, int], planned: list[Operation]
) -> None:
    assert plan_operations(options, size, LIMIT) == planned


@pytest.mark.parametrize(
    ("options", "size", "fields"),
    [
        ({"crop_left": 400}, (400, 300), {"options.crop_left"}),
        ({"crop_top": 300}, (400, 300), {"options.crop_top"}),
        ({"crop_left": 390, "crop_width": 11}, (400, 300), {"options.crop_width"}),
        ({"crop_top": 1, "crop_height": 300}, (400, 300), {"options.crop_height"}),
        (
            {"crop_left": 500, "crop_top": 1, "crop_height": 300},
            (400, 300),
            {"options.crop_left", "options.crop_height"},
        ),
        ({"width": 16_385}, (10, 10), {"options.width"}),
        ({"height": 16_384}, (100, 10), {"options.width"}),
        ({"width": 8000, "height": 8000}, (10, 10), {"options.width"}),
        ({"width": 6000, "height": 6000, "rotate": 45.0}, (10, 10), {"options.rotate"}),
    ],
)
def test_impossible_crops_and_outputs_are_field_violations(
    options: dict[str, OptionValue], size: tuple[int, int], fields: set[str]
) -> None:
    with pytest.raises(PrizmError) as caught:
        plan_operations(options, size, LIMIT)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {name for name, _ in caught.value.field_violations} == fields


def test_rotation_without_expand_never_grows_the_canvas() -> None:
    assert plan_operations({"rotate": 45.0, "expand": False}, (6000, 6000), LIMIT) == [Rotate(45.0, False)]


def _halves(
    size: tuple[int, int] = (40, 20),
    left: tuple[int, int, int] = (255, 0, 0),
    right: tuple[int, int, int] = (0, 0, 255),
) -> Image.Image:
    """Left half red, right half blue (or the colours given)."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[:, : size[0] // 2] = left
    pixels[:, size[0] // 2 :] = right
    return Image.fromarray(pixels, "RGB")


@pytest.mark.parametrize(
    ("operation", "size", "mode"),
    [
        (Crop(5, 2, 10, 7), (10, 7), "RGB"),
        (Resize(13, 90), (13, 90), "RGB"),
        (Rotate(90.0, True), (20, 40), "RGB"),
        (Rotate(30.0, True), (46, 38), "RGB"),
        (Rotate(30.0, False), (40, 20), "RGB"),
        (Filter("grayscale"), (40, 20), "L"),
        (Filter("edge"), (40, 20), "RGB"),
        (Filter("blur", 1.0), (40, 20), "RGB"),
    ],
)
def test_applied_operations_give_the_planned_size(
    operation: Operation, size: tuple[int, int], mode: str
) -> None:
    image = _halves()
    result = apply(image, operation)
    assert result.size == size == size_after(operation, image.size)
    assert result.mode == mode
    assert image.size == (40, 20), "the input is left as it was"


def test_crop_keeps_exactly_the_boxed_pixels() -> None:
    result = np.asarray(apply(_halves(), Crop(15, 0, 10, 5)))
    assert (result[:, :5] == (255, 0, 0)).all() and (result[:, 5:] == (0, 0, 255)).all()


def test_grayscale_is_luma_and_keeps_alpha() -> None:
    gray = np.asarray(apply(_halves(), Filter("grayscale")))
    # ITU-R 601 luma: red 0.299, blue 0.114.
    assert abs(int(gray[0, 0]) - 76) <= 1 and abs(int(gray[0, -1]) - 29) <= 1
    translucent = _halves().convert("RGBA")
    translucent.putalpha(128)
    assert apply(translucent, Filter("grayscale")).mode == "LA"


@pytest.mark.parametrize("name", ["blur", "sharpen", "edge", "contour", "emboss"])
def test_filters_change_the_boundary_but_not_the_flat_areas_far_from_it(name: str) -> None:
    image = _halves((80, 20), (180, 90, 60), (60, 90, 180))
    before, after = np.asarray(image).astype(int), np.asarray(apply(image, Filter(name, 2.0))).astype(int)
    assert (after[:, 38:42] != before[:, 38:42]).any(), "the red-blue edge is untouched"
    if name in ("blur", "sharpen"):
        assert (after[5:15, 10:20] == before[5:15, 10:20]).all()


def test_blur_radius_widens_the_blur() -> None:
    image = _halves((80, 20))
    narrow = np.asarray(apply(image, Filter("blur", 1.0))).astype(int)
    wide = np.asarray(apply(image, Filter("blur", 6.0))).astype(int)
    assert (wide[10] != (255, 0, 0)).any(axis=1).sum() > (narrow[10] != (255, 0, 0)).any(axis=1).sum()


def test_rotate_by_a_quarter_turns_counter_clockwise() -> None:
    rotated = np.asarray(apply(_halves(), Rotate(90.0, True)))
    # The red left half ends up at the bottom.
    assert (rotated[-1] == (255, 0, 0)).all() and (rotated[0] == (0, 0, 255)).all()


@pytest.mark.parametrize("degrees", [1.0, 17.5, 45.0, 90.0, 135.0, 180.0, 200.25, 270.0, 359.0])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (640, 480), (33, 1000)])
def test_expanded_size_matches_pillow(degrees: float, size: tuple[int, int]) -> None:
    operation = Rotate(degrees, True)
    assert size_after(operation, size) == apply(Image.new("L", size), operation).size
