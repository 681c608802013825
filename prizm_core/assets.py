"""Building input assets (text, bytes, files) and naming output files."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from pathlib import Path

from prizm.v1 import media_pb2 as media_pb

from prizm_core.channels import INLINE_LIMIT_BYTES
from prizm_core.errors import invalid_argument

__all__ = [
    "ASSET_SOURCE_HEADER",
    "ASSET_URI_SCHEME",
    "check_inline_inputs",
    "describe_file",
    "extension_for",
    "file_asset",
    "kind_of_mime",
    "text_asset",
]

# URIs of assets uploaded to a router (AssetService), and the call metadata that tells a provider
# which router to download them from.
ASSET_URI_SCHEME = "prizm-asset://"
ASSET_SOURCE_HEADER = "prizm-asset-source"

TEXT_MIME = "text/plain; charset=utf-8"
_KIND_BY_MIME_TOP = {
    "text": media_pb.MEDIA_KIND_TEXT,
    "image": media_pb.MEDIA_KIND_IMAGE,
    "audio": media_pb.MEDIA_KIND_AUDIO,
    "video": media_pb.MEDIA_KIND_VIDEO,
    "model": media_pb.MEDIA_KIND_MODEL_3D,
}
# mimetypes does not know these, or guesses them differently across platforms.
_EXTRA_TYPES = {".wav": "audio/wav", ".glb": "model/gltf-binary", ".gltf": "model/gltf+json"}
_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "text/plain": ".txt",
    "model/gltf-binary": ".glb",
}


def kind_of_mime(mime_type: str) -> media_pb.MediaKind.ValueType:
    """The media kind a MIME type belongs to; UNSPECIFIED when unknown."""
    top = mime_type.split("/", 1)[0].strip().lower()
    return _KIND_BY_MIME_TOP.get(top, media_pb.MEDIA_KIND_UNSPECIFIED)


def text_asset(text: str) -> media_pb.Asset:
    """A UTF-8 text asset."""
    data = text.encode("utf-8")
    return media_pb.Asset(
        kind=media_pb.MEDIA_KIND_TEXT,
        mime_type=TEXT_MIME,
        data=data,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def describe_file(path: Path, mime_type: str = "") -> media_pb.Asset:
    """A file's asset description (kind, MIME type from the name unless given, size), no content.

    Raises:
        PrizmError: INVALID_ARGUMENT when the media type cannot be told.
    """
    mime = mime_type or _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    kind = kind_of_mime(mime)
    if kind == media_pb.MEDIA_KIND_UNSPECIFIED:
        raise invalid_argument([("input", f"cannot tell the media type of {path.name}; name its type")])
    return media_pb.Asset(kind=kind, mime_type=mime, size_bytes=path.stat().st_size)


def file_asset(path: Path, mime_type: str = "") -> media_pb.Asset:
    """An asset holding a file's bytes inline (up to the inline limit; larger files are uploaded).

    Raises:
        PrizmError: INVALID_ARGUMENT when the type is unknown or the file is over the inline limit.
    """
    asset = describe_file(path, mime_type)
    if asset.size_bytes > INLINE_LIMIT_BYTES:
        problem = (
            f"{path.name} is {asset.size_bytes} bytes; inline inputs are limited to {INLINE_LIMIT_BYTES}"
        )
        raise invalid_argument([("input", problem)], reason="INPUT_TOO_LARGE")
    asset.data = path.read_bytes()
    asset.sha256 = hashlib.sha256(asset.data).hexdigest()
    return asset


def check_inline_inputs(inputs: Iterable[media_pb.Asset]) -> None:
    """Refuses a request whose inline inputs are over `INLINE_LIMIT_BYTES` all together.

    Raises:
        PrizmError: INVALID_ARGUMENT INPUT_TOO_LARGE, naming the input that goes over the limit
            and the way to send it instead.
    """
    total = 0
    for index, asset in enumerate(inputs):
        total += len(asset.data)
        if total > INLINE_LIMIT_BYTES:
            problem = (
                f"inline inputs are {total} bytes with this one, over the limit of {INLINE_LIMIT_BYTES} "
                f"({INLINE_LIMIT_BYTES / 2**20:g} MiB); upload it with AssetService.UploadAsset and "
                "send its prizm-asset:// URI instead"
            )
            raise invalid_argument([(f"inputs[{index}].data", problem)], reason="INPUT_TOO_LARGE")


def extension_for(mime_type: str) -> str:
    """A file extension (with the dot) for a MIME type; `.bin` when unknown."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(bare) or mimetypes.guess_extension(bare) or ".bin"
