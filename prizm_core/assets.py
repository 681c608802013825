"""Building input assets (text, bytes, files) and naming output files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path, PurePath

from prizm.v1 import media_pb2 as media_pb

from prizm_core.channels import INLINE_LIMIT_BYTES
from prizm_core.errors import Reason, invalid_argument

__all__ = [
    "ASSET_SOURCE_HEADER",
    "ASSET_URI_SCHEME",
    "MIME_TYPES_BY_EXTENSION",
    "check_inline_inputs",
    "describe_file",
    "extension_for",
    "file_asset",
    "guess_mime_type",
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
# The media types of the files people have, by extension. A fixed table rather than the platform's
# `mimetypes`, which lacks some (.flac, .m4a, .opus, .webp on older systems) and differs between
# systems. A container that holds audio or video lists both, the usual one first: see
# `guess_mime_type`.
MIME_TYPES_BY_EXTENSION: dict[str, tuple[str, ...]] = {
    ".txt": ("text/plain",),
    ".md": ("text/markdown",),
    ".png": ("image/png",),
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".webp": ("image/webp",),
    ".gif": ("image/gif",),
    ".bmp": ("image/bmp",),
    ".tiff": ("image/tiff",),
    ".tif": ("image/tiff",),
    ".avif": ("image/avif",),
    ".heic": ("image/heic",),
    ".wav": ("audio/wav",),
    ".mp3": ("audio/mpeg",),
    ".ogg": ("audio/ogg", "video/ogg"),
    ".oga": ("audio/ogg",),
    ".opus": ("audio/ogg",),
    ".flac": ("audio/flac",),
    ".m4a": ("audio/mp4",),
    ".aac": ("audio/aac",),
    ".weba": ("audio/webm",),
    ".aiff": ("audio/aiff",),
    ".aif": ("audio/aiff",),
    ".mka": ("audio/x-matroska",),
    ".mp4": ("video/mp4", "audio/mp4"),
    ".m4v": ("video/mp4",),
    ".webm": ("video/webm", "audio/webm"),
    ".ogv": ("video/ogg",),
    ".mkv": ("video/x-matroska",),
    ".mov": ("video/quicktime",),
    ".avi": ("video/x-msvideo",),
    ".mpeg": ("video/mpeg",),
    ".mpg": ("video/mpeg",),
    ".ts": ("video/mp2t",),
    ".3gp": ("video/3gpp",),
    ".flv": ("video/x-flv",),
    ".glb": ("model/gltf-binary",),
    ".gltf": ("model/gltf+json",),
    ".obj": ("model/obj",),
    ".stl": ("model/stl",),
}
# Other names in use for the same types, so their outputs get the usual extension.
_ALIASES = {
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mp3": ".mp3",
    "audio/x-flac": ".flac",
    "audio/x-m4a": ".m4a",
    "audio/opus": ".opus",
    "image/x-ms-bmp": ".bmp",
}


def _own_extensions() -> dict[str, str]:
    """The extension of each type: the first it is listed under first, else the first it is under.

    So audio/mp4 is .m4a (first there) rather than .mp4 (where video/mp4 comes first).
    """
    extensions = dict(_ALIASES)
    for position in (0, 1):
        for extension, mime_types in MIME_TYPES_BY_EXTENSION.items():
            if len(mime_types) > position:
                extensions.setdefault(mime_types[position], extension)
    return extensions


_EXTENSIONS = _own_extensions()


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


def guess_mime_type(name: str, kind: int = media_pb.MEDIA_KIND_UNSPECIFIED) -> str:
    """The MIME type of a file from its extension; empty when unknown.

    Args:
        name: The file's name or path.
        kind: The kind of media expected, if known: a container that holds either (`.webm`, `.mp4`,
            `.ogg`) is taken as that kind, e.g. `talk.webm` as `audio/webm` for speech recognition.
    """
    mime_types = MIME_TYPES_BY_EXTENSION.get(PurePath(name).suffix.lower(), ())
    preferred = [mime for mime in mime_types if kind_of_mime(mime) == kind]
    return next(iter(preferred or mime_types), "")


def describe_file(path: Path, mime_type: str = "") -> media_pb.Asset:
    """A file's asset description (kind, MIME type from the name unless given, size), no content.

    Raises:
        PrizmError: INVALID_ARGUMENT when the media type cannot be told.
    """
    mime = mime_type or guess_mime_type(path.name)
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
        raise invalid_argument([("input", problem)], reason=Reason.INPUT_TOO_LARGE)
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
            raise invalid_argument([(f"inputs[{index}].data", problem)], reason=Reason.INPUT_TOO_LARGE)


def extension_for(mime_type: str) -> str:
    """A file extension (with the dot) for a MIME type; `.bin` when unknown."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(bare, ".bin")
