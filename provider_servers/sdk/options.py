"""Options checked against a model's parameter schema before any work starts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from google.protobuf import struct_pb2

from prizm_core.errors import invalid_argument
from provider_servers.sdk.models import OptionValue, Param

__all__ = ["option_values", "resolve_options"]


Checked = tuple[OptionValue | None, str]


def _boolean(param: Param, value: object) -> Checked:
    return (value, "") if isinstance(value, bool) else (None, "must be true or false")


def _string(param: Param, value: object) -> Checked:
    if not isinstance(value, str):
        return None, "must be a string"
    if param.choices and value not in param.choices:
        return None, f"must be one of {', '.join(param.choices)}"
    if param.max_length and len(value) > param.max_length:
        return None, f"must be at most {param.max_length} characters"
    return value, ""


def _number(param: Param, value: object) -> Checked:
    whole = param.type == "integer"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"must be a finite {'whole number' if whole else 'number'}"
    if whole and value != int(value):
        return None, "must be a whole number"
    number: int | float = int(value) if whole else value
    if param.minimum is not None and number < param.minimum:
        return None, f"must be at least {param.minimum:g}"
    if param.maximum is not None and number > param.maximum:
        return None, f"must be at most {param.maximum:g}"
    return number, ""


_CHECKS = {"boolean": _boolean, "string": _string, "integer": _number, "number": _number}


class _Unset:
    """A `Value` with no kind set, as a client that misspells a Struct field can send."""


class _Compound:
    """A list or a nested struct: never a valid option value (every parameter is a scalar)."""


_SCALARS = {"number_value", "string_value", "bool_value"}


def option_values(options: struct_pb2.Struct) -> dict[str, object]:
    """The options of a request as Python values, without trusting the Struct to be well formed.

    `Struct.items()` raises on a `Value` with no kind; here such a value, a
    list or a nested struct, becomes a marker that the checks reject with a
    field violation, and `null` becomes None (rejected the same way).
    """
    values: dict[str, object] = {}
    for name, value in options.fields.items():
        kind = value.WhichOneof("kind")
        if kind in _SCALARS:
            values[name] = getattr(value, kind)
        elif kind == "null_value":
            values[name] = None
        else:
            values[name] = _Unset() if kind is None else _Compound()
    return values


def _problem(param: Param, value: object) -> Checked:
    if isinstance(value, _Unset):
        return None, "has no value (a google.protobuf.Value with no kind set)"
    if isinstance(value, _Compound):
        return None, f"must be a {param.type}, not a list or an object"
    return _CHECKS[param.type](param, value)


def resolve_options(params: Sequence[Param], given: Mapping[str, object]) -> dict[str, OptionValue]:
    """Checks `given` against `params` and fills in defaults.

    Raises:
        PrizmError: INVALID_ARGUMENT, reason INVALID_OPTIONS, with a field
            violation (`options.<name>`) for every unknown, missing or bad option.
    """
    by_name = {param.name: param for param in params}
    violations: list[tuple[str, str]] = []
    resolved: dict[str, OptionValue] = {}
    for name in sorted(given):
        param = by_name.get(name)
        if param is None:
            accepted = ", ".join(sorted(by_name)) or "none"
            violations.append((f"options.{name}", f"unknown option; accepted: {accepted}"))
            continue
        value, problem = _problem(param, given[name])
        if problem:
            violations.append((f"options.{name}", problem))
        elif value is not None:
            resolved[name] = value
    for param in params:
        if param.name in resolved or param.name in given:
            continue
        if param.required:
            violations.append((f"options.{param.name}", "is required"))
        elif param.default is not None:
            resolved[param.name] = param.default
    if violations:
        raise invalid_argument(violations, reason="INVALID_OPTIONS")
    return resolved
