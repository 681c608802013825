"""The value types of a service manifest: names, image references, sizes, GPU counts, capabilities."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, WithJsonSchema

from prizm_core.capabilities import all_capabilities, capability_by_name

__all__ = [
    "CapabilityName",
    "EnvName",
    "EnvValue",
    "FieldError",
    "GpuCount",
    "ImageRef",
    "MemorySize",
    "ServiceName",
]

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Docker's reference grammar (distribution/reference), without the uncommon corners: an optional
# registry host[:port], lowercase path components, an optional tag and an optional digest.
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


class FieldError(ValueError):
    """A problem a model validator finds in one of the model's fields, named so its line is found.

    Attributes:
        field: The field's name within the model being validated.
    """

    def __init__(self, field: str, message: str) -> None:
        """Names the field and says what is wrong with it."""
        super().__init__(message)
        self.field = field


def _memory(value: Any) -> int:
    """`2g`, `512m`, `1.5GiB` or a number of bytes, as bytes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a size such as 2g, 512m or a number of bytes")
    if isinstance(value, int):
        size = value
    else:
        match = _MEMORY.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size such as 2g, 512m or a number of bytes")
        size = int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])
    if size < 4 << 20:
        raise ValueError("must be at least 4m (the least Docker accepts)")
    return size


def _gpus(value: Any) -> int | Literal["all"]:
    """A whole number of GPUs, 0 or more, or `all`."""
    if value == "all":
        return "all"
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number of GPUs (0 or more) or `all`")
    return value


def _capability(text: str) -> str:
    try:
        return capability_by_name(text).name
    except KeyError:
        names = [info.name for info in all_capabilities()]
        # The config module imports manifests, so the CLI's did-you-mean helper (which imports the
        # config) cannot be used here; difflib gives the same suggestions.
        close = difflib.get_close_matches(text.strip().lower().replace("_", "-"), names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see `prizm models` for the names"
        raise ValueError(f"unknown capability {text!r}{hint}") from None


def _image(text: str) -> str:
    if not _IMAGE.match(text):
        raise ValueError(f"{text!r} is not an image reference such as prizm/piper-tts:1.0.0")
    return text


def _env_value(value: Any) -> str:
    """A YAML scalar as the text the container sees (`true`, `1`, `0.5`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("must be a string, a number or a boolean")


ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=63)]
"""A service's name: lowercase letters, digits and dashes, starting with a letter."""

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""An environment variable's name."""

EnvValue = Annotated[
    str, BeforeValidator(_env_value), WithJsonSchema({"type": ["string", "number", "boolean"]})
]
"""An environment variable's value: any YAML scalar, passed on as text."""

ImageRef = Annotated[str, AfterValidator(_image)]
"""A Docker image reference, `[registry/]path[:tag][@digest]`."""

MemorySize = Annotated[
    int,
    PlainValidator(_memory),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[kmgtKMGT]?i?[bB]?\s*$"},
                {"type": "integer", "minimum": 4 << 20},
            ],
            "description": "A size such as 2g or 512m (binary units), or a number of bytes.",
        }
    ),
]
"""A memory size in bytes, written as `2g`, `512m` or a number of bytes."""

GpuCount = Annotated[
    int | Literal["all"],
    PlainValidator(_gpus),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"const": "all"}]}),
]
"""How many GPUs a service needs: a whole number, or `all` the machine has."""

CapabilityName = Annotated[
    str,
    AfterValidator(_capability),
    WithJsonSchema({"type": "string", "enum": [info.name for info in all_capabilities()]}),
]
"""A capability by its CLI name (`text-to-audio`, or `TEXT_TO_AUDIO`), kept as its CLI name."""
