"""Image operations: planned from a job's options against the input's size, applied in a fixed order."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image, ImageFilter

from prizm_core.errors import Reason, invalid_argument
from provider_servers.sdk import OptionValue

__all__ = [
    "FILTERS",
    "MAX_SIDE",
    "Crop",
    "Filter",
    "Operation",
    "Resize",
    "Rotate",
    "apply",
    "plan_operations",
    "size_after",
]

FILTERS = ("none", "blur", "sharpen", "grayscale", "edge", "contour", "emboss")
# Longest side an output may have (the pixel limit applies as well).
MAX_SIDE = 16_384
_CONVOLUTIONS = {
    "sharpen": ImageFilter.SHARPEN,
    "edge": ImageFilter.FIND_EDGES,
    "contour": ImageFilter.CONTOUR,
    "emboss": ImageFilter.EMBOSS,
}

Size = tuple[int, int]


@dataclass(frozen=True)
class Crop:
    """Keep the box of `width` x `height` pixels whose top-left corner is at (`left`, `top`)."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Resize:
    """Scale to exactly `width` x `height` pixels (Lanczos)."""

    width: int
    height: int


@dataclass(frozen=True)
class Rotate:
    """Turn counter-clockwise by `degrees`; `expand` grows the canvas to hold the whole image."""

    degrees: float
    expand: bool


@dataclass(frozen=True)
class Filter:
    """Apply the filter `name` (one of FILTERS but none); `radius` is the blur's, in pixels."""

    name: str
    radius: float = 2.0


Operation = Crop | Resize | Rotate | Filter


def _int(options: Mapping[str, OptionValue], name: str) -> int | None:
    value = options.get(name)
    return None if value is None else int(value)


def _crop(options: Mapping[str, OptionValue], size: Size) -> Crop | None:
    width, height = size
    left, top = _int(options, "crop_left") or 0, _int(options, "crop_top") or 0
    crop_width = _int(options, "crop_width") or width - left
    crop_height = _int(options, "crop_height") or height - top
    problems = []
    if left >= width:
        problems.append(("options.crop_left", f"must be less than the image width, {width}"))
    elif left + crop_width > width:
        problems.append(("options.crop_width", f"crop_left + crop_width must be at most {width}"))
    if top >= height:
        problems.append(("options.crop_top", f"must be less than the image height, {height}"))
    elif top + crop_height > height:
        problems.append(("options.crop_height", f"crop_top + crop_height must be at most {height}"))
    if problems:
        raise invalid_argument(problems, reason=Reason.INVALID_OPTIONS)
    crop = Crop(left, top, crop_width, crop_height)
    return None if crop == Crop(0, 0, width, height) else crop


def _resize(options: Mapping[str, OptionValue], size: Size) -> Resize | None:
    width, height = _int(options, "width"), _int(options, "height")
    if width is None and height is None:
        return None
    # One side given: the other follows the aspect ratio.
    if width is None:
        assert height is not None  # noqa: S101 - one of the two is set
        width = max(1, round(size[0] * height / size[1]))
    elif height is None:
        height = max(1, round(size[1] * width / size[0]))
    if max(width, height) > MAX_SIDE:
        field = "options.width" if width > MAX_SIDE else "options.height"
        raise invalid_argument([(field, f"the output would be {width}x{height}, over {MAX_SIDE} a side")])
    return None if (width, height) == size else Resize(width, height)


def _expanded(degrees: float, size: Size) -> Size:
    """The canvas Pillow's `rotate(expand=True)` makes, computed the way Pillow does."""
    degrees %= 360.0
    width, height = size
    if degrees in (90.0, 270.0):
        return height, width
    if degrees in (0.0, 180.0):
        return size
    angle = -math.radians(degrees)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    shift_x = cos * -width / 2 + sin * -height / 2 + width / 2
    shift_y = -sin * -width / 2 + cos * -height / 2 + height / 2
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [cos * x + sin * y + shift_x for x, y in corners]
    ys = [-sin * x + cos * y + shift_y for x, y in corners]
    return math.ceil(max(xs)) - math.floor(min(xs)), math.ceil(max(ys)) - math.floor(min(ys))


def size_after(operation: Operation, size: Size) -> Size:
    """The image size `operation` turns `size` into."""
    if isinstance(operation, Crop | Resize):
        return operation.width, operation.height
    if isinstance(operation, Rotate) and operation.expand:
        return _expanded(operation.degrees, size)
    return size


def plan_operations(options: Mapping[str, OptionValue], size: Size, max_pixels: int) -> list[Operation]:
    """The operations `options` ask for, in order: crop, resize, rotate, filter.

    Args:
        options: Validated options (crop_*, width, height, rotate, expand, filter, blur_radius).
        size: Width and height of the input, as displayed.
        max_pixels: Most pixels any step may produce.

    Raises:
        PrizmError: INVALID_ARGUMENT with field violations for a crop outside
            the image, or an output too large.
    """
    operations: list[Operation] = []
    crop = _crop(options, size)
    if crop is not None:
        operations.append(crop)
    resize = _resize(options, (crop.width, crop.height) if crop else size)
    if resize is not None:
        operations.append(resize)
    degrees = float(options.get("rotate", 0.0)) % 360.0
    if degrees:
        operations.append(Rotate(degrees, bool(options.get("expand", True))))
    name = str(options.get("filter", "none"))
    if name != "none":
        operations.append(Filter(name, float(options.get("blur_radius", 2.0))))
    for operation in operations:
        size = size_after(operation, size)
        if size[0] * size[1] > max_pixels:
            field = "options.rotate" if isinstance(operation, Rotate) else "options.width"
            raise invalid_argument(
                [(field, f"the output would be {size[0]}x{size[1]}, over {max_pixels} pixels")]
            )
    return operations


def _filter(image: Image.Image, operation: Filter) -> Image.Image:
    if operation.name == "blur":
        return image.filter(ImageFilter.GaussianBlur(operation.radius))
    if operation.name == "grayscale":
        return image.convert("LA" if "A" in image.mode else "L")
    return image.filter(_CONVOLUTIONS[operation.name])


def apply(image: Image.Image, operation: Operation) -> Image.Image:
    """`image` with `operation` applied; the input is left as it was.

    Args:
        image: An image in mode L, LA, RGB or RGBA.
        operation: What to do.
    """
    if isinstance(operation, Crop):
        box = (
            operation.left,
            operation.top,
            operation.left + operation.width,
            operation.top + operation.height,
        )
        return image.crop(box)
    if isinstance(operation, Resize):
        return image.resize((operation.width, operation.height), Image.Resampling.LANCZOS)
    if isinstance(operation, Rotate):
        return image.rotate(operation.degrees, Image.Resampling.BICUBIC, expand=operation.expand)
    return _filter(image, operation)
