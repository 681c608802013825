"""The contract cases of the synthetic provider (entry point group `prizm.contract`)."""

from __future__ import annotations

from provider_servers.contract import Case, text_input
from provider_servers.sdk import Capability
from provider_servers.synthetic.provider import synthetic_output

__all__ = ["cases"]

_SEED = "the quick brown fox jumps over the lazy dog"


def _check(data: bytes) -> None:
    """The seed repeated to the default size, byte for byte."""
    assert data == synthetic_output(_SEED.encode(), 1024)


def cases() -> list[Case]:
    """A seed, and two hundred slow events to cancel."""
    return [
        Case(
            capability=Capability.TEXT_TO_TEXT,
            sample=lambda: text_input(_SEED),
            long_input=lambda: text_input(_SEED),
            long_options={"events": 200, "interval_ms": 50},
            check=_check,
        )
    ]
