"""Health over time: the harness asks a provider that can tell (a remote vendor) at an interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Health", "HealthChecked", "watch_health"]

log = logging.getLogger(__name__)

# After failed checks the interval doubles, up to 2**3 = 8 times the provider's own interval.
_MAX_DOUBLINGS = 3


@dataclass(frozen=True)
class Health:
    """What a health check found.

    Attributes:
        serving: Whether the provider can take jobs now.
        detail: Why, for people: shown as the service status detail (e.g. the reason
            `UPSTREAM_AUTH_FAILED` and the vendor's words); never a secret.
    """

    serving: bool
    detail: str


class HealthChecked(Protocol):
    """What the watch uses of a provider."""

    @property
    def health_interval_s(self) -> float:
        """Seconds between checks while healthy; 0 for never."""
        ...

    async def check_health(self) -> Health:
        """One check."""
        ...


async def watch_health(
    provider: HealthChecked, report: Callable[[Health], Awaitable[None]], recheck: asyncio.Event | None = None
) -> None:
    """Checks `provider` forever, reporting each change (the first result always), with backoff.

    While checks fail, the next one waits twice as long each time (up to 8 times the interval),
    so a vendor that is down is not hammered; the first good check restores the interval. Setting
    `recheck` (new settings, such as a new key) checks again at once.
    """
    recheck = recheck or asyncio.Event()
    interval = provider.health_interval_s
    last: Health | None = None
    failures = 0
    while True:
        try:
            health = await provider.check_health()
        except Exception as exc:  # a check that breaks says "not serving", it does not end the watch
            log.warning("health check failed: %s", type(exc).__name__)
            health = Health(False, f"health check failed: {type(exc).__name__}")
        if health != last:
            log.info("health: %s (%s)", "serving" if health.serving else "not serving", health.detail)
            await report(health)
            last = health
        failures = 0 if health.serving else min(failures + 1, _MAX_DOUBLINGS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recheck.wait(), interval * 2**failures)
        recheck.clear()
