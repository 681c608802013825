"""Options checked against a model's parameters before any work starts, as the router checks them."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core import option_schema
from prizm_core.option_schema import option_values
from provider_servers.sdk.convert import param_proto
from provider_servers.sdk.models import OptionValue, Param

__all__ = ["inferred_params", "option_values", "resolve_options"]


@functools.cache
def _schema(params: tuple[Param, ...]) -> tuple[catalog_pb.Parameter, ...]:
    """The parameters as the catalog publishes them (a model's are fixed: built once)."""
    return tuple(param_proto(param) for param in params)


def inferred_params(options: Mapping[str, object], note: str) -> tuple[Param, ...]:
    """Parameters for an undeclared model: one per option given, of the type of its value.

    So that the SDK's check lets exactly these options through, and still refuses a value no
    option may hold (a list, an object, a null); a whole number is an integer.
    """
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))
    params = []
    for name, value in options.items():
        found = next((kind for python, kind in kinds if isinstance(value, python)), None)
        # A request's numbers are all doubles (`Struct`): a whole one goes on as the integer it was.
        if isinstance(value, float) and value.is_integer():
            found = "integer"
        if found is not None:
            params.append(Param(name, found, note))  # type: ignore[arg-type]  # one of Param's types
    return tuple(params)


def resolve_options(
    params: Sequence[Param], given: Mapping[str, object], *, unchecked: bool = False
) -> dict[str, OptionValue]:
    """Checks `given` against `params` and fills in defaults.

    The check runs on the published schema (`prizm_core.option_schema`), the
    same one the router applies to every candidate, so both always agree. With
    `unchecked` (`ModelSpec.unchecked_options`), options `params` does not
    declare pass as given (see `inferred_params`).

    Raises:
        PrizmError: INVALID_ARGUMENT, reason INVALID_OPTIONS, with a field
            violation (`options.<name>`) for every unknown, missing or bad option.
    """
    if unchecked:
        declared = {param.name for param in params}
        extra = {name: value for name, value in given.items() if name not in declared}
        params = (*params, *inferred_params(extra, "passed through unchecked"))
    return option_schema.resolve_options(_schema(tuple(params)), given)
