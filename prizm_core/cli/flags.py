"""Flag values of the `prizm` command, checked as argparse parses them (a bad one is a usage error)."""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Iterable

import grpc

from prizm_core.capabilities import all_capabilities
from prizm_core.config import ConfigError, parse_address, parse_policy
from prizm_core.errors import PrizmError, Reason

__all__ = [
    "capability_name",
    "complete_capabilities",
    "did_you_mean",
    "option_text",
    "policy_name",
    "positive_count",
    "positive_seconds",
    "router_address_flag",
    "utf8_text",
    "waiting_seconds",
]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean X?` naming the known words closest to `word`, or "" when none is close."""
    close = difflib.get_close_matches(word, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    named = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f"; did you mean {named}?"


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number of seconds: {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A deadline in seconds: a finite number above zero."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def waiting_seconds(text: str) -> float:
    """How long to wait, in seconds: a finite number, zero (do not wait) or more."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, got {text}")
    return value


def utf8_text(text: str) -> str:
    """Text that can go on the wire: bytes the shell passed that are not UTF-8 cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {text!r}") from None
    return text


def option_text(text: str) -> str:
    """`KEY=VALUE`, as given; the value is typed later, against the model's schema."""
    key, sep, _ = utf8_text(text).partition("=")
    if not sep or not key or key != key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def positive_count(text: str) -> int:
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def router_address_flag(text: str) -> str:
    """A router address, `host:port` (an IPv6 host in brackets)."""
    try:
        parse_address(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def policy_name(text: str) -> str:
    """A routing policy: priority, cheapest or least-loaded."""
    try:
        parse_policy(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def complete_capabilities(action: argparse.Action) -> argparse.Action:
    """Has shell completion (argcomplete) offer the capability names for `action`'s value."""
    # argcomplete reads a `completer` attribute off the action; argparse's stubs do not know it.
    action.completer = lambda **_: [info.name for info in all_capabilities()]  # type: ignore[attr-defined]
    return action


def capability_name(text: str) -> str:
    """A capability by its CLI name, e.g. `text-to-audio` (or `TEXT_TO_AUDIO`).

    Raises:
        PrizmError: INVALID_ARGUMENT UNKNOWN_CAPABILITY, with the nearest names when one is close.
    """
    names = [info.name for info in all_capabilities()]
    key = text.strip().lower().replace("_", "-").removeprefix("capability-")
    if key not in names:
        raise PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.UNKNOWN_CAPABILITY,
            f"unknown capability {text!r}{did_you_mean(key, names) or '; see `prizm models`'}",
        )
    return key
