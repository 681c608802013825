"""Job options checked against a model's parameter schema: the one validator of provider and router.

A provider checks a job's options before any work starts; the router checks the
same options against every candidate's catalog before choosing one. Both read
the `prizm.v1.Parameter` messages a provider publishes, through this module, so
they can never disagree on what a model accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core.errors import Reason, invalid_argument
from prizm_core.options import OptionValue

__all__ = ["Violation", "check_options", "option_values", "resolve_options"]

# `(field, problem)`, e.g. `("options.speed", "must be at most 2")`: one BadRequest field violation.
Violation = tuple[str, str]
_Checked = tuple[OptionValue | None, str]

_STRING = catalog_pb.PARAMETER_TYPE_STRING
_INTEGER = catalog_pb.PARAMETER_TYPE_INTEGER
_NUMBER = catalog_pb.PARAMETER_TYPE_NUMBER
_BOOLEAN = catalog_pb.PARAMETER_TYPE_BOOLEAN
_TYPE_NAMES = {_STRING: "a string", _INTEGER: "an integer", _NUMBER: "a number", _BOOLEAN: "true or false"}


def _boolean(parameter: catalog_pb.Parameter, value: object) -> _Checked:
    return (value, "") if isinstance(value, bool) else (None, "must be true or false")


def _string(parameter: catalog_pb.Parameter, value: object) -> _Checked:
    if not isinstance(value, str):
        return None, "must be a string"
    if parameter.choices and value not in parameter.choices:
        return None, f"must be one of {', '.join(parameter.choices)}"
    if parameter.max_length and len(value) > parameter.max_length:
        return None, f"must be at most {parameter.max_length} characters"
    return value, ""


def _number(parameter: catalog_pb.Parameter, value: object) -> _Checked:
    whole = parameter.type == _INTEGER
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"must be a finite {'whole number' if whole else 'number'}"
    if whole and value != int(value):
        return None, "must be a whole number"
    number: int | float = int(value) if whole else value
    if parameter.HasField("minimum") and number < parameter.minimum:
        return None, f"must be at least {parameter.minimum:g}"
    if parameter.HasField("maximum") and number > parameter.maximum:
        return None, f"must be at most {parameter.maximum:g}"
    return number, ""


def _untyped(parameter: catalog_pb.Parameter, value: object) -> _Checked:
    # A catalog from a newer provider may carry a type this router does not know: refuse, do not guess.
    return None, f"has a parameter type this Prizm does not know ({parameter.type})"


_CHECKS: dict[int, Callable[[catalog_pb.Parameter, object], _Checked]] = {
    _STRING: _string,
    _INTEGER: _number,
    _NUMBER: _number,
    _BOOLEAN: _boolean,
}


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


def _problem(parameter: catalog_pb.Parameter, value: object) -> _Checked:
    if isinstance(value, _Unset):
        return None, "has no value (a google.protobuf.Value with no kind set)"
    if isinstance(value, _Compound):
        return None, f"must be {_TYPE_NAMES.get(parameter.type, 'a single value')}, not a list or an object"
    return _CHECKS.get(parameter.type, _untyped)(parameter, value)


def _default(parameter: catalog_pb.Parameter) -> OptionValue | None:
    """The parameter's default as its type (a Struct number is a double: an integer's comes back whole)."""
    if not parameter.HasField("default_value"):
        return None
    kind = parameter.default_value.WhichOneof("kind")
    if kind not in _SCALARS:
        return None
    value: OptionValue = getattr(parameter.default_value, kind)
    if parameter.type == _INTEGER and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_options(
    parameters: Sequence[catalog_pb.Parameter], given: Mapping[str, object]
) -> tuple[dict[str, OptionValue], list[Violation]]:
    """Checks `given` against `parameters` and fills in defaults.

    Args:
        parameters: The model's parameter schema, as its catalog publishes it.
        given: The job's options (see `option_values`).

    Returns:
        The options with defaults filled in, and one `(options.<name>, problem)`
        for every unknown, missing or bad option (empty when the model accepts them).
    """
    by_name = {parameter.name: parameter for parameter in parameters}
    violations: list[Violation] = []
    resolved: dict[str, OptionValue] = {}
    for name in sorted(given):
        parameter = by_name.get(name)
        if parameter is None:
            accepted = ", ".join(sorted(by_name)) or "none"
            violations.append((f"options.{name}", f"unknown option; accepted: {accepted}"))
            continue
        value, problem = _problem(parameter, given[name])
        if problem:
            violations.append((f"options.{name}", problem))
        elif value is not None:
            resolved[name] = value
    for parameter in parameters:
        if parameter.name in resolved or parameter.name in given:
            continue
        default = _default(parameter)
        if parameter.required:
            violations.append((f"options.{parameter.name}", "is required"))
        elif default is not None:
            resolved[parameter.name] = default
    return resolved, violations


def resolve_options(
    parameters: Sequence[catalog_pb.Parameter], given: Mapping[str, object]
) -> dict[str, OptionValue]:
    """Checks `given` against `parameters` and fills in defaults.

    Raises:
        PrizmError: INVALID_ARGUMENT, reason INVALID_OPTIONS, with a field
            violation (`options.<name>`) for every unknown, missing or bad option.
    """
    resolved, violations = check_options(parameters, given)
    if violations:
        raise invalid_argument(violations, reason=Reason.INVALID_OPTIONS)
    return resolved
