"""The building blocks of config parsing: the error, addresses, checked numbers, lists and sections.

Each part of the router's config (`prizm_core/config.py`) is read with these, so every problem is
a `ConfigError` that names the file and the key: `router.yaml: metrics.port: must be ...`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

__all__ = [
    "ENV_NAME",
    "ConfigError",
    "env_map",
    "listed",
    "no_unknown_keys",
    "number",
    "parse_address",
    "section",
    "whole",
]

_MAX_PORT = 65_535
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Section = TypeVar("Section", bound=pydantic.BaseModel)


class ConfigError(ValueError):
    """A config file or value that cannot be used, with the reason."""


def parse_address(address: str) -> tuple[str, int]:
    """Splits `host:port` (an IPv6 host in brackets: `[::1]:50051`); raises ConfigError otherwise."""
    host, sep, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    valid = (
        sep
        and host
        and (bracketed or ":" not in host)
        and port.isascii()
        and port.isdigit()
        and int(port) <= _MAX_PORT
    )
    if not valid:
        raise ConfigError(f"not a host:port address: {address!r}")
    return host.strip("[]"), int(port)


def whole(value: object, where: str, minimum: int = 0) -> int:
    """`value` as a whole number of at least `minimum` (never a bool); `where` names it in the error."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}: must be a whole number ≥ {minimum}, got {value!r}")
    return value


def no_unknown_keys(item: dict[str, Any], known: set[str], where: str) -> None:
    """Refuses keys of `item` not in `known`, listing the known ones."""
    unknown = sorted(set(item) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def env_map(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """A mapping of environment variable names to strings, sorted."""
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and ENV_NAME.fullmatch(name) and isinstance(text, str)
        for name, text in value.items()
    ):
        raise ConfigError(f"{where}: must map environment variable names to strings")
    return tuple(sorted(value.items()))


def number(value: object, where: str, minimum: float = 0.0) -> float:
    """`value` as a number of at least `minimum` (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}: must be a number ≥ {minimum:g}, got {value!r}")
    return float(value)


def listed(data: Mapping[str, Any], key: str, source: str) -> list[Any]:
    """The list at `key` (absent or empty: `[]`)."""
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {key} must be a list")
    return value


def section(model: type[Section], data: Mapping[str, Any], key: str, source: str) -> Section:
    """The mapping at `key` read as `model` (a pydantic model; absent: its defaults).

    Raises:
        ConfigError: One line per problem, each naming the key path (`source: key.field: why`).
    """
    value = data.get(key)
    try:
        return model.model_validate({} if value is None else value)
    except pydantic.ValidationError as exc:
        problems = [
            f"{source}: {'.'.join(str(part) for part in (key, *error['loc']))}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigError("\n".join(problems)) from None
