"""Images in and out: formats allowed, pixel limit, orientation, modes, and only the metadata asked for."""

from __future__ import annotations

import io
import struct
import zlib

import grpc
import numpy as np
import pytest
from PIL import Image

from prizm_core.errors import PrizmError
from provider_servers.imaging.codec import MAX_PIXELS, decode, encode, probe

_MAKE, _ORIENTATION = 0x010F, 0x0112


def _saved(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[_MAKE] = "Prizm Camera"
    exif[_ORIENTATION] = orientation
    return exif.tobytes()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size, with no pixel data: what a decompression bomb looks like up front."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _refusal(data: bytes) -> PrizmError:
    with pytest.raises(PrizmError) as caught:
        probe(data)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


@pytest.mark.parametrize(
    ("fmt", "mode", "expected"),
    [
        ("PNG", "RGBA", "PNG"),
        ("JPEG", "RGB", "JPEG"),
        ("WEBP", "RGB", "WEBP"),
        ("GIF", "P", "GIF"),
        ("BMP", "RGB", "BMP"),
    ],
)
def test_probe_reads_the_allowed_formats(fmt: str, mode: str, expected: str) -> None:
    facts = probe(_saved(Image.new(mode, (31, 17)), fmt))
    assert (facts.format, facts.width, facts.height) == (expected, 31, 17)
    assert decode(_saved(Image.new(mode, (31, 17)), fmt)).frames == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG",
        b"not an image at all",
        _saved(Image.new("RGB", (8, 8)), "TIFF"),
        _saved(Image.new("RGB", (8, 8)), "PPM"),
    ],
)
def test_anything_else_is_unsupported_media(data: bytes) -> None:
    assert _refusal(data).reason == "UNSUPPORTED_MEDIA"


# Pillow warns from 89 MP on, and refuses from twice that: the limit here comes first.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("width", "height"), [(MAX_PIXELS + 1, 1), (10_000, 10_000), (40_000, 40_000)])
def test_images_over_the_pixel_limit_are_refused_from_the_header(width: int, height: int) -> None:
    assert _refusal(_png_header(width, height)).reason == "INPUT_TOO_LARGE"


def test_a_header_within_the_limit_is_accepted_before_decoding() -> None:
    assert probe(_png_header(6000, 4000)).size == (6000, 4000)


def test_damaged_data_is_unsupported_media_when_decoded() -> None:
    data = _saved(Image.new("RGB", (64, 64), "red"), "PNG")
    with pytest.raises(PrizmError) as caught:
        decode(data[: len(data) // 2])
    assert caught.value.reason == "UNSUPPORTED_MEDIA"


@pytest.mark.parametrize(
    ("orientation", "size"), [(1, (30, 20)), (3, (30, 20)), (6, (20, 30)), (8, (20, 30))]
)
def test_exif_orientation_is_applied_and_removed(orientation: int, size: tuple[int, int]) -> None:
    data = _saved(Image.new("RGB", (30, 20), "green"), "JPEG", exif=_exif(orientation))
    assert probe(data).size == size
    decoded = decode(data)
    assert decoded.image.size == size
    assert decoded.exif is not None
    exif = Image.Exif()
    exif.load(decoded.exif)
    assert exif[_MAKE] == "Prizm Camera" and exif.get(_ORIENTATION, 1) == 1


@pytest.mark.parametrize(
    ("image", "mode"),
    [
        (Image.new("1", (4, 4)), "L"),
        (Image.new("P", (4, 4)), "RGB"),
        (Image.new("RGBA", (4, 4)), "RGBA"),
        (Image.new("LA", (4, 4)), "LA"),
        (Image.new("CMYK", (4, 4)), "RGB"),
        (Image.fromarray(np.full((4, 4), 0xABCD, dtype=np.uint16)), "L"),
    ],
)
def test_decoded_images_are_in_a_mode_every_step_takes(image: Image.Image, mode: str) -> None:
    fmt = "JPEG" if image.mode == "CMYK" else "PNG"
    assert decode(_saved(image, fmt)).image.mode == mode


def test_sixteen_bit_grey_keeps_its_top_byte() -> None:
    image = Image.fromarray(np.full((4, 4), 0xABCD, dtype=np.uint16))
    assert set(np.asarray(decode(_saved(image, "PNG")).image).ravel()) == {0xAB}


def test_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")]
    data = _saved(frames[0], "GIF", save_all=True, append_images=frames[1:])
    decoded = decode(data)
    assert decoded.frames == 2
    assert decoded.image.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(("fmt", "name"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_encode_writes_the_format_with_no_metadata_unless_given(fmt: str, name: str) -> None:
    source = Image.new("RGB", (16, 16), "white")
    source.info["comment"] = b"kept by default by Pillow"
    plain = Image.open(io.BytesIO(encode(source.copy(), fmt)))
    assert plain.format == name and plain.size == (16, 16)
    assert not plain.getexif() and "comment" not in plain.info
    tagged = Image.open(io.BytesIO(encode(source, fmt, exif=_exif())))
    assert tagged.getexif()[_MAKE] == "Prizm Camera"


def test_jpeg_lays_transparency_on_white() -> None:
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    pixels = np.asarray(Image.open(io.BytesIO(encode(clear, "jpeg"))))
    assert (pixels > 245).all()


def test_lower_quality_gives_smaller_jpeg() -> None:
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8), "RGB")
    assert len(encode(noise.copy(), "jpeg", 20)) < len(encode(noise.copy(), "jpeg", 95))
