"""What the `prizm` command prints for a failure: one line per problem, in words, never transport text."""

from __future__ import annotations

import grpc

from prizm_core.cli.tls import transport_hint
from prizm_core.errors import PrizmError

__all__ = ["UsageError", "explain"]

# The words gRPC's C core puts in a status it made itself because no server could be reached.
_UNREACHABLE = ("failed to connect", "dns resolution failed", "connection refused", "name resolution")


class UsageError(Exception):
    """A flag or argument the command refuses before any work (exit status 2)."""


def _from_server(error: PrizmError) -> bool:
    """Whether a server sent the error (with `ErrorInfo`), not the transport on its own."""
    return str(error.reason) != error.code.name


def _context(error: PrizmError) -> str:
    """What the message says beyond its field violations (each of which gets its own line)."""
    message = error.message
    for name, problem in error.field_violations:
        message = message.replace(f"{name}: {problem}", "")
    message = message.strip(" ;:,.")
    return "" if message.lower() in ("", "invalid request") else message


def _transport(error: PrizmError, router: str) -> str:
    """A status the client's own transport made, in words."""
    text = error.message.lower()
    if error.code == grpc.StatusCode.UNAVAILABLE and (hint := transport_hint(error.message, router)):
        return f"error: UNAVAILABLE: {hint}"
    if error.code == grpc.StatusCode.UNAVAILABLE and any(words in text for words in _UNREACHABLE):
        return (
            f"error: UNAVAILABLE: no router at {router}; "
            "start one with `prizm up`, or name another with --router or PRIZM_ROUTER"
        )
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return f"error: UNAVAILABLE: lost the connection to the router at {router}"
    if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"error: DEADLINE_EXCEEDED: the router at {router} did not finish within the deadline"
    if error.code == grpc.StatusCode.CANCELLED:
        return "error: CANCELLED: the call was cancelled"
    return f"error: {error.code.name}: {error.message}"


def explain(error: PrizmError, router: str) -> list[str]:
    """The lines to print for `error`: one per problem, each with the code and the reason.

    Args:
        error: What failed.
        router: The router address the command used, to name when none answered there.
    """
    if not _from_server(error):
        return [_transport(error, router)]
    head = f"error: {error.code.name} {error.reason}"
    context = _context(error) if error.field_violations else error.message
    lines = [f"{head}: {context}"] if context else []
    lines += [f"{head}: {name}: {problem}" for name, problem in error.field_violations]
    return lines
