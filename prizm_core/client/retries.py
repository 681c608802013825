"""When the client tries a job again: a failure before commit whose status says when (RetryInfo)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prizm_core.errors import PrizmError

__all__ = ["DEFAULT_MAX_ATTEMPTS", "MAX_RETRY_DELAY_S", "Deadline", "retry_delay"]

DEFAULT_MAX_ATTEMPTS = 3
# A server may ask for a long wait (a full asset store: a minute); past this the caller hears of the
# failure at once and decides, rather than a call that seems to hang.
MAX_RETRY_DELAY_S = 10.0


@dataclass(frozen=True)
class Deadline:
    """The end of a call on the monotonic clock; `None` means no deadline."""

    end: float | None

    @classmethod
    def after(cls, timeout: float | None) -> Deadline:
        """The deadline `timeout` seconds from now, or none."""
        return cls(None if timeout is None else time.monotonic() + timeout)

    def remaining(self) -> float | None:
        """Seconds left (at least a millisecond, so a call fails by itself rather than hang); None."""
        return None if self.end is None else max(self.end - time.monotonic(), 0.001)


def retry_delay(error: PrizmError, attempt: int, max_attempts: int, deadline: Deadline) -> float | None:
    """Seconds to wait before trying a failed job again, or None when the failure goes to the caller.

    Only a retryable code (UNAVAILABLE, RESOURCE_EXHAUSTED) that carries `RetryInfo` is tried again:
    the server sends RetryInfo exactly where trying again can help (an overloaded router or provider,
    no healthy provider yet). The caller checks that no event of the job reached anyone first.

    Args:
        error: The failure.
        attempt: How many attempts were made, from 1.
        max_attempts: The most attempts in all.
        deadline: The call's deadline: a wait that would pass it is not made, nor one over
            `MAX_RETRY_DELAY_S`.
    """
    if attempt >= max_attempts or not error.retryable or error.retry_after_s is None:
        return None
    delay = max(error.retry_after_s, 0.0)
    if delay > MAX_RETRY_DELAY_S:
        return None
    remaining = deadline.remaining()
    if remaining is not None and delay >= remaining:
        return None
    return delay
