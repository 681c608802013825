"""Options checked against a model's parameters before any work starts, as the router checks them."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core import option_schema
from prizm_core.option_schema import option_values
from provider_servers.sdk.convert import param_proto
from provider_servers.sdk.models import OptionValue, Param

__all__ = ["option_values", "resolve_options"]


@functools.cache
def _schema(params: tuple[Param, ...]) -> tuple[catalog_pb.Parameter, ...]:
    """The parameters as the catalog publishes them (a model's are fixed: built once)."""
    return tuple(param_proto(param) for param in params)


def resolve_options(params: Sequence[Param], given: Mapping[str, object]) -> dict[str, OptionValue]:
    """Checks `given` against `params` and fills in defaults.

    The check runs on the published schema (`prizm_core.option_schema`), the
    same one the router applies to every candidate, so both always agree.

    Raises:
        PrizmError: INVALID_ARGUMENT, reason INVALID_OPTIONS, with a field
            violation (`options.<name>`) for every unknown, missing or bad option.
    """
    return option_schema.resolve_options(_schema(tuple(params)), given)
