"""Telling long calls that their server is stopping, so that each ends with a status of its own.

gRPC's graceful stop ends whatever still runs when the grace is over with a
bare UNAVAILABLE "Cancelling all calls": the caller cannot tell a stopping
server from a broken one, nor which job was lost. A `Trigger` fired a moment
before lets each long call end itself with a Prizm status instead.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Trigger"]


class Trigger:
    """A one-way switch that calls back whoever listens when it is fired (at once if it already was)."""

    def __init__(self) -> None:
        self.fired = False
        self._listeners: set[Callable[[], None]] = set()

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Calls `callback` when fired; returns what stops listening."""
        if self.fired:
            callback()
            return lambda: None
        self._listeners.add(callback)
        return lambda: self._listeners.discard(callback)

    def fire(self) -> None:
        """Fires once: every listener is called, in no particular order."""
        if self.fired:
            return
        self.fired = True
        listeners, self._listeners = self._listeners, set()
        for callback in listeners:
            callback()
