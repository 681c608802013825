"""Sending a job's inputs to a vendor: as a data URL, a multipart file or a streamed body."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import AsyncIterator
from typing import BinaryIO

from provider_servers.sdk import InputAsset, file_chunks

__all__ = ["DATA_URL_MAX_BYTES", "asset_body", "data_url", "file_name", "multipart_file"]

# Above this an input goes to the vendor as a file (multipart or the vendor's upload API), not
# inline in JSON: Replicate documents data URLs for files up to 1 MB, beyond that its files API.
DATA_URL_MAX_BYTES = 1024 * 1024
# The media types vendors take, whose extension `mimetypes` gets wrong or not at all depending on
# the machine's mime database (`audio/wav` is unknown to it; `audio/mp4` gives `.mp4a`).
_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/webm": ".webm",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
}


def file_name(asset: InputAsset, stem: str = "input") -> str:
    """A file name for the asset with the extension of its MIME type (`input.mp3`), which vendors
    that sniff by name (OpenAI transcriptions) need."""
    mime = asset.mime_type.split(";")[0].strip().lower()
    extension = _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""
    return f"{stem}{extension}"


def data_url(asset: InputAsset) -> str:
    """The asset as a `data:` URL (base64), for inputs up to `DATA_URL_MAX_BYTES`.

    Raises:
        ValueError: The asset is larger: upload it with the vendor's files API instead.
    """
    if asset.size_bytes > DATA_URL_MAX_BYTES:
        raise ValueError(f"input of {asset.size_bytes} bytes is too large for a data URL")
    mime = asset.mime_type.split(";")[0].strip() or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(asset.read()).decode('ascii')}"


def multipart_file(asset: InputAsset, stem: str = "input") -> tuple[str, bytes | BinaryIO, str]:
    """The `(name, content, mime type)` httpx sends as a multipart file.

    An input sent by reference is given as its open file, so httpx streams it from disk; the
    caller closes it (`content.close()`) after the request. An inline input is its bytes.
    """
    mime = asset.mime_type.split(";")[0].strip() or "application/octet-stream"
    if asset.path is not None:
        return file_name(asset, stem), asset.path.open("rb"), mime
    return file_name(asset, stem), asset.read(), mime


async def asset_body(asset: InputAsset) -> AsyncIterator[bytes]:
    """The asset's bytes as a streamed request body (`content=`), read from disk a megabyte at a
    time for inputs sent by reference, so an upload's memory stays flat."""
    if asset.path is None:
        yield asset.read()
        return
    async for chunk in file_chunks(asset.path):
        yield chunk
