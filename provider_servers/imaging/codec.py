"""Images in and out: probed and decoded within a pixel limit, encoded with only the metadata asked for."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from prizm_core.errors import Reason, invalid_argument

__all__ = [
    "FORMATS",
    "INPUT_FORMATS",
    "MAX_PIXELS",
    "MIME_TYPES",
    "Decoded",
    "ImageFacts",
    "decode",
    "encode",
    "probe",
]

# What Pillow may open: anything else is refused before a decoder for it runs.
INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
# Output formats by option value.
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# Most pixels an input (or any intermediate image) may have: 40 MP is ~160 MB as RGBA, and well
# under Pillow's own decompression-bomb limit, which this check replaces.
MAX_PIXELS = 40_000_000
# EXIF orientations that swap width and height (transposed or rotated by 90 or 270 degrees).
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112
# Formats whose EXIF sits in the header; PNG may keep it after the pixels, and reading it there
# would decode the whole image, so PNG orientation tags are not applied.
_ORIENTED_FORMATS = {"JPEG", "WEBP"}

Source = bytes | Path


@dataclass(frozen=True)
class ImageFacts:
    """What an image's header says.

    Attributes:
        format: Pillow's format name (PNG, JPEG, ...).
        width: Width as displayed, after its EXIF orientation.
        height: Height as displayed, after its EXIF orientation.
    """

    format: str
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        """Width and height."""
        return self.width, self.height


@dataclass(frozen=True)
class Decoded:
    """A decoded image with the metadata it came with.

    Attributes:
        image: The first frame, upright, in mode L, LA, RGB or RGBA.
        facts: What the header said.
        frames: Frames in the file (animations have more than one; only the first is decoded).
        exif: The EXIF block (orientation already applied and removed), if any.
        xmp: The XMP packet, if any.
        icc_profile: The ICC colour profile, if any.
    """

    image: Image.Image
    facts: ImageFacts
    frames: int
    exif: bytes | None
    xmp: bytes | None
    icc_profile: bytes | None


def _open(source: Source) -> Image.Image:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return Image.open(stream, formats=list(INPUT_FORMATS))
    except Image.DecompressionBombError as exc:
        raise invalid_argument([("inputs[0].data", str(exc))], reason=Reason.INPUT_TOO_LARGE) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        formats = ", ".join(INPUT_FORMATS)
        raise invalid_argument(
            [("inputs[0].data", f"not an image this provider reads ({formats})")],
            reason=Reason.UNSUPPORTED_MEDIA,
        ) from exc


def _facts(image: Image.Image) -> ImageFacts:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise invalid_argument(
            [("inputs[0].data", f"image is {width}x{height}, over the {MAX_PIXELS}-pixel limit")],
            reason=Reason.INPUT_TOO_LARGE,
        )
    oriented = image.format in _ORIENTED_FORMATS
    if oriented and image.getexif().get(_ORIENTATION_TAG) in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return ImageFacts(str(image.format), width, height)


def probe(source: Source) -> ImageFacts:
    """Reads an image's header only: format and displayed size.

    Raises:
        PrizmError: INVALID_ARGUMENT, reason UNSUPPORTED_MEDIA for anything but
            PNG, JPEG, WebP, GIF or BMP, and INPUT_TOO_LARGE over MAX_PIXELS.
    """
    with _open(source) as image:
        return _facts(image)


def _normalized(image: Image.Image) -> Image.Image:
    """The image in mode L, LA, RGB or RGBA, which every operation and encoder takes."""
    alpha = "A" in image.mode or "transparency" in image.info
    gray = image.mode in ("1", "L", "LA", "I", "F") or image.mode.startswith("I;16")
    if image.mode.startswith("I;16"):
        # 16-bit grey: keep the top byte (Pillow's own conversion clips at 255 instead).
        image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    target = ("LA" if alpha else "L") if gray else ("RGBA" if alpha else "RGB")
    return image if image.mode == target else image.convert(target)


def _bytes(value: object) -> bytes | None:
    if isinstance(value, bytes) and value:
        return value
    if isinstance(value, str) and value:
        return value.encode("utf-8")
    return None


def decode(source: Source) -> Decoded:
    """Decodes the first frame, turned upright by its EXIF orientation.

    Raises:
        PrizmError: As `probe`, and UNSUPPORTED_MEDIA for a file that breaks off.
    """
    with _open(source) as opened:
        facts = _facts(opened)
        try:
            # Counting a GIF's frames reads the whole file: done here, in the decoding step.
            frames = int(getattr(opened, "n_frames", 1))
            opened.seek(0)
            opened.load()
            upright = ImageOps.exif_transpose(opened) if facts.format in _ORIENTED_FORMATS else opened
        except (OSError, ValueError, SyntaxError) as exc:
            raise invalid_argument(
                [("inputs[0].data", f"the {facts.format} data is damaged: {exc}")],
                reason=Reason.UNSUPPORTED_MEDIA,
            ) from exc
        exif = upright.getexif()
        return Decoded(
            image=_normalized(upright),
            facts=facts,
            frames=frames,
            exif=exif.tobytes() if len(exif) else None,
            xmp=_bytes(upright.info.get("xmp")),
            icc_profile=_bytes(upright.info.get("icc_profile")),
        )


def _flattened(image: Image.Image) -> Image.Image:
    """The image without alpha, laid on white: what JPEG can hold."""
    if image.mode == "LA":
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image


def encode(
    image: Image.Image,
    fmt: str,
    quality: int = 90,
    *,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    """Encodes `image` as `fmt` (png, jpeg or webp) carrying only the metadata passed in.

    Args:
        image: The image, in mode L, LA, RGB or RGBA.
        fmt: Output format: a key of FORMATS.
        quality: Quality of lossy formats, 1 to 100.
        exif: EXIF block to embed; none when None.
        xmp: XMP packet to embed; none when None.
        icc_profile: ICC colour profile to embed; none when None.

    The image's own `info` is cleared: encoders would otherwise copy some of it.
    """
    if fmt == "jpeg":
        image = _flattened(image)
    # Encoders fall back on `info` for some metadata (JPEG comments, PNG ICC): pass only ours.
    image.info = {}
    params: dict[str, object] = {}
    if fmt in ("jpeg", "webp"):
        params["quality"] = quality
    for name, value in (("exif", exif), ("xmp", xmp), ("icc_profile", icc_profile)):
        if value is not None:
            params[name] = value
    buffer = io.BytesIO()
    image.save(buffer, format=FORMATS[fmt], **params)
    return buffer.getvalue()
