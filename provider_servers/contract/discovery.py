"""The providers installed here (entry point group `prizm.providers`) and the cases they declare."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import cast

from provider_servers.contract.case import Case

__all__ = [
    "CONTRACT_GROUP",
    "PROVIDER_GROUP",
    "Environment",
    "NoCasesError",
    "installed_providers",
    "load_cases",
    "load_environment",
]

Environment = Callable[[], contextlib.AbstractContextManager[dict[str, str]]]
"""A cases module's optional `environment()`: entered around the provider's server, it yields the
variables the server runs with (a remote provider's fake vendor URL and a canary key)."""

PROVIDER_GROUP = "prizm.providers"
CONTRACT_GROUP = "prizm.contract"


class NoCasesError(Exception):
    """A provider declares no contract cases, or its declaration cannot load."""


def installed_providers() -> list[str]:
    """Names of the providers installed in this environment, sorted."""
    return sorted({point.name for point in entry_points(group=PROVIDER_GROUP)})


def load_cases(provider: str, before_import: Callable[[str], object] | None = None) -> list[Case]:
    """The contract cases `provider` declares under `prizm.contract`, in its own order.

    Args:
        provider: The provider's name.
        before_import: Called with the name of the module declaring the cases before importing it
            (the plugin has pytest rewrite its asserts).

    Raises:
        NoCasesError: No entry point of that name, one that cannot load, or no case from it.
    """
    points = [point for point in entry_points(group=CONTRACT_GROUP) if point.name == provider]
    if not points:
        raise NoCasesError(
            f"provider {provider!r} declares no contract cases: add an entry point "
            f'{provider} = "your_package.contract:cases" to the group {CONTRACT_GROUP!r}'
        )
    if before_import is not None:
        before_import(points[0].module)
    try:
        declare = cast("Callable[[], Sequence[Case]]", points[0].load())
        cases = list(declare())
    # Whatever a third party's declaration raises, the suite reports it as that provider's failure.
    except Exception as exc:
        raise NoCasesError(
            f"the contract cases of {provider!r} ({points[0].value}) cannot load: {exc!r}"
        ) from exc
    if not cases or not all(isinstance(case, Case) for case in cases):
        raise NoCasesError(f"{points[0].value} must return one Case or more, got {cases!r}")
    return cases


def load_environment(provider: str) -> Environment | None:
    """The `environment()` of the module declaring `provider`'s cases, or None when it has none.

    Raises:
        NoCasesError: The module cannot be imported.
    """
    points = [point for point in entry_points(group=CONTRACT_GROUP) if point.name == provider]
    if not points:
        return None
    try:
        module = importlib.import_module(points[0].module)
    except Exception as exc:  # a third party's module: reported as that provider's failure
        raise NoCasesError(f"the contract cases of {provider!r} cannot load: {exc!r}") from exc
    found = getattr(module, "environment", None)
    return cast("Environment", found) if callable(found) else None
