"""What a caller may pass as a job's input, and how each is read: text, a file path, bytes or an asset.

The rule: a `pathlib.Path` (any `os.PathLike`) is always a file. A `str` is the text itself when the
capability takes text (`text-to-audio`, `text-to-image`, ...) and a file path otherwise
(`audio-to-text`, `image-to-image`, ...). `bytes` are UTF-8 text for text capabilities and refused
otherwise (their media type cannot be told: give a path or an `Asset`). A file's media type comes
from its extension (`prizm_core.assets.MIME_TYPES_BY_EXTENSION`), a container that holds audio or
video (`.webm`, `.mp4`, `.ogg`) taken as the kind the capability takes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import guess_mime_type, text_asset
from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError, invalid_argument

__all__ = ["FileInput", "Input", "Inputs", "file_size", "resolve_inputs"]

Input = str | bytes | os.PathLike[str] | media_pb.Asset
Inputs = Input | Sequence[Input]


@dataclass(frozen=True)
class FileInput:
    """A file to send, inline or uploaded by its size.

    Attributes:
        path: The file.
        mime_type: Its media type, from its extension; empty when unknown.
        field: Where it stands in the request, for errors (`inputs[0]`).
    """

    path: Path
    mime_type: str
    field: str


def _one(input_kind: int, item: Input, field: str) -> media_pb.Asset | FileInput:
    if isinstance(item, media_pb.Asset):
        return item
    text = input_kind == media_pb.MEDIA_KIND_TEXT
    if isinstance(item, bytes):
        if not text:
            raise invalid_argument([(field, "bytes have no media type: give a file path or an Asset")])
        try:
            return text_asset(item.decode("utf-8"))
        except UnicodeDecodeError:
            raise invalid_argument([(field, "text must be UTF-8")]) from None
    if isinstance(item, str) and text:
        return text_asset(item)
    path = Path(item)
    return FileInput(path, guess_mime_type(path.name, input_kind), field)


def resolve_inputs(capability: int, inputs: Inputs) -> list[media_pb.Asset | FileInput]:
    """The job's inputs by the rule above: assets to send as they are, and files to read.

    Raises:
        PrizmError: INVALID_ARGUMENT INVALID_INPUT for bytes that are not text, or no input.
    """
    input_kind = capability_info(capability).input_kind
    items = [inputs] if isinstance(inputs, str | bytes | os.PathLike | media_pb.Asset) else list(inputs)
    if not items:
        raise invalid_argument([("inputs", "at least one input is required")])
    return [_one(input_kind, item, f"inputs[{index}]") for index, item in enumerate(items)]


def file_size(path: Path, field: str = "input") -> int:
    """The size of a regular file (blocking: call it in a thread).

    Raises:
        PrizmError: INVALID_ARGUMENT INVALID_INPUT when it is missing, unreadable or not a file.
    """
    try:
        found = path.stat()
    except OSError as exc:
        raise _unreadable(path, field, exc.strerror or type(exc).__name__) from None
    if not stat.S_ISREG(found.st_mode):
        raise _unreadable(path, field, "not a file")
    if not os.access(path, os.R_OK):
        raise _unreadable(path, field, "not readable")
    return found.st_size


def _unreadable(path: Path, field: str, why: str) -> PrizmError:
    return invalid_argument([(field, f"cannot read {path}: {why}")])
