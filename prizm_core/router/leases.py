"""Leases of self-registered providers: granted, renewed, and reaped when they run out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

__all__ = ["Leases"]

log = logging.getLogger(__name__)

_REAP_EVERY_S = 0.5


class Leases:
    """Expiry times of registered endpoints; expired ones are handed to `on_expired`."""

    def __init__(
        self,
        on_expired: Callable[[str], None],
        default_s: float = 30.0,
        max_s: float = 300.0,
    ) -> None:
        self._on_expired = on_expired
        self.default_s = default_s
        self.max_s = max_s
        self._expiry: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def grant(self, address: str, requested_s: float) -> float:
        """Grants or renews the lease of `address`; returns its length in seconds."""
        length = min(requested_s, self.max_s) if requested_s > 0 else self.default_s
        self._expiry[address] = time.monotonic() + length
        if self._task is None:
            self._task = asyncio.create_task(self._reap(), name="lease reaper")
        return length

    def release(self, address: str) -> bool:
        """Ends the lease of `address`; False if it had none."""
        return self._expiry.pop(address, None) is not None

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(_REAP_EVERY_S)
            now = time.monotonic()
            for address in [a for a, expiry in self._expiry.items() if expiry <= now]:
                del self._expiry[address]
                log.warning("lease of %s ran out; removing it", address)
                try:
                    self._on_expired(address)
                except Exception:  # one failed removal must not stop every later expiry
                    log.exception("removing %s after its lease failed", address)

    async def close(self) -> None:
        """Stops reaping."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
