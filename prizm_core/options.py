"""Job options: their value type, `key=value` parsing, and their `Struct` form on the wire."""

from __future__ import annotations

import json
from collections.abc import Mapping

from google.protobuf import struct_pb2

from prizm_core.errors import invalid_argument

__all__ = ["OptionValue", "options_struct", "parse_option"]

OptionValue = str | int | float | bool


def options_struct(values: Mapping[str, OptionValue] | None) -> struct_pb2.Struct:
    """A Struct holding `values`."""
    struct = struct_pb2.Struct()
    if values:
        struct.update(dict(values))
    return struct


def parse_option(text: str) -> tuple[str, OptionValue]:
    """`key=value`, the value read as a number or boolean when it is one, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise invalid_argument([("option", f"expected key=value, got {text!r}")])
    try:
        value = json.loads(raw)
    except ValueError:
        return key, raw
    return key, value if isinstance(value, int | float | bool) else raw
