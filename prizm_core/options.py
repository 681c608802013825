"""Job options: their value type, `key=value` parsing, and their `Struct` form on the wire."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core.errors import invalid_argument

__all__ = ["OptionValue", "options_struct", "parse_option"]

OptionValue = str | int | float | bool

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def options_struct(values: Mapping[str, OptionValue] | None) -> struct_pb2.Struct:
    """A Struct holding `values`."""
    struct = struct_pb2.Struct()
    if values:
        struct.update(dict(values))
    return struct


def _guess(raw: str) -> OptionValue:
    """A finite number or a boolean when the text is one in JSON, else the text."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
        return value
    return raw


def _typed(raw: str, parameter: catalog_pb.Parameter) -> OptionValue:
    """The text as the parameter's type; the text itself when it is not one (the provider says why)."""
    kind = parameter.type
    if kind == catalog_pb.PARAMETER_TYPE_BOOLEAN and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    if kind in (catalog_pb.PARAMETER_TYPE_INTEGER, catalog_pb.PARAMETER_TYPE_NUMBER):
        value = _guess(raw)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value) if kind == catalog_pb.PARAMETER_TYPE_INTEGER and value == int(value) else value
    if kind == catalog_pb.PARAMETER_TYPE_STRING:
        return raw
    return raw if kind else _guess(raw)


def parse_option(
    text: str, parameters: Mapping[str, catalog_pb.Parameter] | None = None
) -> tuple[str, OptionValue]:
    """`key=value`, the value typed by the model's parameter of that name when known.

    Without a known parameter the value is read as a number or boolean when it
    is one, else kept as a string.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise invalid_argument([("option", f"expected key=value, got {text!r}")])
    parameter = (parameters or {}).get(key)
    return key, _guess(raw) if parameter is None else _typed(raw, parameter)
