"""Imaging: image edits with Pillow, and a procedural text card that is plainly not an AI model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path

from PIL import features

from prizm_core.errors import Reason, invalid_argument
from provider_servers.imaging.card import draw_text, gradient, load_font, palette
from provider_servers.imaging.codec import MAX_PIXELS, MIME_TYPES, decode, encode, probe
from provider_servers.imaging.operations import FILTERS, MAX_SIDE, apply, plan_operations, size_after
from provider_servers.sdk import (
    Capability,
    Event,
    InputAsset,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Param,
    Progress,
    Provider,
    ProviderKind,
    Usage,
    standard_param,
)

__all__ = ["CARD", "EDIT", "ImagingProvider"]

MAX_CARD_CHARACTERS = 2_000
_INPUT_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/x-ms-bmp")
_FORMAT_OF_INPUT = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}

EDIT = ModelSpec(
    id="pillow-edit",
    display_name="Pillow image edits (crop, resize, rotate, filter, convert)",
    description=(
        "Deterministic image editing with Pillow, no AI model: crop, then resize, then rotate, then "
        "filter, then encode as PNG, JPEG or WebP. PNG, JPEG, WebP, GIF (first frame) or BMP in, up to "
        f"{MAX_PIXELS // 1_000_000} megapixels; EXIF orientation is applied. The output keeps the input's "
        "format unless `format` says otherwise (PNG for GIF and BMP input)."
    ),
    capabilities=(Capability.IMAGE_TO_IMAGE,),
    parameters=(
        standard_param(
            "width", note="Alone, the height follows the aspect ratio.", minimum=1, maximum=MAX_SIDE
        ),
        standard_param(
            "height", note="Alone, the width follows the aspect ratio.", minimum=1, maximum=MAX_SIDE
        ),
        Param(
            "crop_left",
            "integer",
            "Left edge of the crop box, in input pixels (default 0).",
            minimum=0,
            maximum=MAX_PIXELS,
        ),
        Param(
            "crop_top",
            "integer",
            "Top edge of the crop box, in input pixels (default 0).",
            minimum=0,
            maximum=MAX_PIXELS,
        ),
        Param(
            "crop_width",
            "integer",
            "Width of the crop box (default: to the right edge).",
            minimum=1,
            maximum=MAX_PIXELS,
        ),
        Param(
            "crop_height",
            "integer",
            "Height of the crop box (default: to the bottom edge).",
            minimum=1,
            maximum=MAX_PIXELS,
        ),
        Param(
            "rotate",
            "number",
            "Degrees to turn counter-clockwise; uncovered corners are black (clear with alpha).",
            default=0.0,
            minimum=-360.0,
            maximum=360.0,
        ),
        Param("expand", "boolean", "Grow the canvas so a rotated image is not cut off.", default=True),
        Param("filter", "string", "Filter applied last.", default="none", choices=FILTERS),
        Param(
            "blur_radius",
            "number",
            "Radius of the blur filter, in pixels.",
            default=2.0,
            minimum=0.1,
            maximum=100.0,
        ),
        standard_param(
            "format",
            note="Pillow: leave out to keep the input's (PNG for others).",
            choices=tuple(MIME_TYPES),
        ),
        Param("quality", "integer", "Quality of JPEG and WebP output.", default=90, minimum=1, maximum=100),
        Param(
            "strip_metadata",
            "boolean",
            "Drop EXIF and XMP from the output (the colour profile stays).",
            default=True,
        ),
    ),
    input_mime_types=_INPUT_MIME_TYPES,
    output_mime_type="image/png",
)

CARD = ModelSpec(
    id="procedural-card",
    display_name="Procedural gradient card (not an AI model)",
    description=(
        "NOT a generative AI model and not an image generator: draws the prompt text, wrapped, in "
        "DejaVu Sans on a two-colour gradient whose colours and direction come from a hash of the "
        "text and `seed`. The same text and options always give the same PNG, byte for byte."
    ),
    capabilities=(Capability.TEXT_TO_IMAGE,),
    parameters=(
        standard_param("width", default=1024, minimum=64, maximum=4096),
        standard_param("height", default=576, minimum=64, maximum=4096),
        standard_param(
            "seed",
            note="Another seed picks other colours for the same text.",
            default=0,
            minimum=0,
            maximum=2**31 - 1,
        ),
        Param(
            "font_size",
            "integer",
            "Largest font size; long text is set smaller to fit.",
            default=64,
            minimum=8,
            maximum=512,
        ),
    ),
    input_mime_types=("text/plain",),
    output_mime_type="image/png",
)


def _source(asset: InputAsset) -> bytes | Path:
    """The input's file when it came by reference, else its bytes: Pillow reads either."""
    return asset.path if asset.path is not None else asset.read()


def _megapixels(size: tuple[int, int]) -> float:
    return size[0] * size[1] / 1_000_000


class ImagingProvider(Provider):
    """Pillow edits and the procedural card, each step in a worker thread so a cancel lands between steps."""

    id = "imaging"
    display_name = "Imaging (Pillow)"
    kind = ProviderKind.LOCAL
    version = version("pillow")
    description = (
        "Local image editing with Pillow and a procedural text card. No AI model, no key, no network."
    )
    max_concurrent_jobs = 4

    @classmethod
    def missing(cls) -> list[str]:
        """The DejaVu Sans font and Pillow's WebP support, where this machine lacks them."""
        lacking = []
        try:
            load_font(12)
        except OSError:
            lacking.append("the DejaVu Sans font (Debian: apt-get install fonts-dejavu-core)")
        if not features.check("webp"):
            lacking.append("Pillow with WebP support (pip install 'prizm[imaging]')")
        return lacking

    def models(self) -> Sequence[ModelSpec]:
        """Image edits, then the procedural card."""
        return [EDIT, CARD]

    def check_inputs(self, job: Job) -> None:
        """Also reads the image header (format, size) and checks the crop and output size against it.

        Raises:
            PrizmError: INVALID_ARGUMENT: UNSUPPORTED_MEDIA for what Pillow may not
                open, INPUT_TOO_LARGE over the pixel limit, field violations for options.
        """
        super().check_inputs(job)
        if job.model.id == CARD.id:
            text = job.inputs[0].text().strip()
            if not text:
                raise invalid_argument([("inputs[0].data", "text is empty")])
            if len(text) > MAX_CARD_CHARACTERS:
                raise invalid_argument(
                    [("inputs[0].data", f"text is longer than {MAX_CARD_CHARACTERS} characters")],
                    reason=Reason.INPUT_TOO_LARGE,
                )
            return
        facts = probe(_source(job.inputs[0]))
        plan_operations(job.options, facts.size, MAX_PIXELS)

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """One output image, and its megapixels."""
        if job.model.id == CARD.id:
            size = (int(job.options["width"]), int(job.options["height"]))
        else:
            size = probe(_source(job.inputs[0])).size
            for operation in plan_operations(job.options, size, MAX_PIXELS):
                size = size_after(operation, size)
        return {
            MediaUnit.OUTPUT_IMAGE: 1.0,
            MediaUnit.OUTPUT_MEGAPIXEL: _megapixels(size),
        }

    def transform(self, job: Job) -> AsyncIterator[Event]:
        """Edits the image, or draws the card."""
        return self._card(job) if job.model.id == CARD.id else self._edit(job)

    async def _edit(self, job: Job) -> AsyncIterator[Event]:
        """Decode, each operation, encode: one progress event after each."""
        yield Progress(fraction=0.0, stage="decode", message="decoding the image")
        decoded = await asyncio.to_thread(decode, _source(job.inputs[0]))
        operations = plan_operations(job.options, decoded.facts.size, MAX_PIXELS)
        steps = len(operations) + 2
        facts = decoded.facts
        yield Progress(
            fraction=1 / steps, stage="decode", message=f"{facts.format} {facts.width}x{facts.height}"
        )
        image = decoded.image
        for done, operation in enumerate(operations, start=2):
            image = await asyncio.to_thread(apply, image, operation)
            name = type(operation).__name__.lower()
            yield Progress(fraction=done / steps, stage=name, message=f"{name}: {image.width}x{image.height}")
        fmt = str(job.options.get("format") or _FORMAT_OF_INPUT.get(facts.format, "png"))
        keep = not job.options["strip_metadata"]
        data = await asyncio.to_thread(
            encode,
            image,
            fmt,
            int(job.options["quality"]),
            exif=decoded.exif if keep else None,
            xmp=decoded.xmp if keep else None,
            icc_profile=decoded.icc_profile,
        )
        yield Progress(fraction=1.0, stage="encode", message=f"{fmt}, {len(data)} bytes")
        yield Output(
            kind=MediaKind.IMAGE,
            mime_type=MIME_TYPES[fmt],
            data=data,
            metadata={
                "width": str(image.width),
                "height": str(image.height),
                "format": fmt,
                "source_format": facts.format.lower(),
                "source_frames": str(decoded.frames),
            },
        )
        yield Usage(
            {
                MediaUnit.OUTPUT_IMAGE: 1.0,
                MediaUnit.OUTPUT_MEGAPIXEL: _megapixels(image.size),
            }
        )

    async def _card(self, job: Job) -> AsyncIterator[Event]:
        """Gradient, text, encode: one progress event after each."""
        text = job.inputs[0].text().strip()
        size = (int(job.options["width"]), int(job.options["height"]))
        colors = palette(text, int(job.options["seed"]))
        yield Progress(fraction=0.0, stage="gradient", message=f"{size[0]}x{size[1]} card")
        card = await asyncio.to_thread(gradient, size, colors)
        yield Progress(fraction=1 / 3, stage="gradient", message=f"from {colors.start} to {colors.end}")
        card = await asyncio.to_thread(draw_text, card, text, int(job.options["font_size"]), colors.ink)
        yield Progress(fraction=2 / 3, stage="text", message=f"{len(text)} characters set")
        data = await asyncio.to_thread(encode, card, "png")
        yield Progress(fraction=1.0, stage="encode", message=f"png, {len(data)} bytes")
        yield Output(
            kind=MediaKind.IMAGE,
            mime_type="image/png",
            data=data,
            metadata={"width": str(size[0]), "height": str(size[1]), "format": "png", "generator": CARD.id},
        )
        yield Usage(
            {
                MediaUnit.OUTPUT_IMAGE: 1.0,
                MediaUnit.OUTPUT_MEGAPIXEL: _megapixels(size),
            }
        )
