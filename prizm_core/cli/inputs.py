"""A job's INPUT argument as the CLI reads it: text, `@file`, a file path, or `-` for stdin."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import puremagic
from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import guess_mime_type, kind_of_mime, text_asset
from prizm_core.capabilities import CapabilityInfo
from prizm_core.cli.explain import UsageError

__all__ = ["STDIN", "media_input", "read_input", "sniff_mime", "stdin_asset"]

STDIN = "-"


def sniff_mime(data: bytes, kind: media_pb.MediaKind.ValueType) -> str:
    """The MIME type of `data` from its first bytes, preferring one of `kind` (what the job takes).

    puremagic names the candidate file types; each one's extension maps to a MIME type as a file
    name would (`guess_mime_type`), so a WebM or MP4 of sound alone is audio when audio is wanted.

    Raises:
        UsageError: the bytes are of no media type that can be told.
    """
    try:
        guesses = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):  # nothing matched, or no bytes at all
        guesses = []
    known = [mime for guess in guesses if (mime := guess_mime_type(f"stdin{guess.extension}", kind))]
    preferred = [mime for mime in known if kind_of_mime(mime) == kind]
    if preferred or known:
        return (preferred or known)[0]
    raise UsageError("cannot tell the media type of stdin; save it to a file with its extension")


def stdin_asset(kind: media_pb.MediaKind.ValueType) -> media_pb.Asset:
    """Standard input's bytes as an asset, its type sniffed (preferring `kind`).

    Raises:
        UsageError: stdin is empty, or of no type that can be told.
    """
    data = sys.stdin.buffer.read()
    if not data:
        raise UsageError("stdin is empty")
    mime = sniff_mime(data, kind)
    return media_pb.Asset(
        kind=kind_of_mime(mime),
        mime_type=mime,
        data=data,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _text(value: str) -> media_pb.Asset:
    if value == STDIN:
        try:
            return text_asset(sys.stdin.buffer.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise UsageError("stdin is not UTF-8 text") from None
    if not value.startswith("@"):
        try:
            return text_asset(value)
        except UnicodeEncodeError:  # bytes from the shell that are not UTF-8
            raise UsageError(f"the text is not UTF-8: {value!r}") from None
    path = Path(value[1:])
    try:
        return text_asset(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a text file") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None


def media_input(value: str, kind: media_pb.MediaKind.ValueType) -> media_pb.Asset | Path:
    """A media file path (sent inline when small, uploaded when large), or `-` for stdin's bytes,
    whose type is sniffed preferring `kind`.

    Raises:
        UsageError: the file is missing or a folder, or stdin is empty or of no known type.
    """
    if value == STDIN:
        return stdin_asset(kind)
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{value} is a folder; name a file")
    if not path.is_file():
        raise UsageError(f"no such file: {value}")
    return path


def read_input(capability: CapabilityInfo, value: str) -> media_pb.Asset | Path:
    """The job's input: text capabilities take the text itself (`@file` reads a file, `-` stdin);
    others a media file (see `media_input`).

    Raises:
        UsageError: the file is missing, a folder, not UTF-8 text, or stdin is empty or unknown.
    """
    if capability.input_kind == media_pb.MEDIA_KIND_TEXT:
        return _text(value)
    return media_input(value, capability.input_kind)
