"""Fast overload rejection: a cap on the router's jobs in flight, overall and per caller."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc

from prizm_core.errors import PrizmError, Reason

__all__ = ["Admission"]

# How soon a rejected caller should try again.
RETRY_AFTER_S = 0.5


@dataclass
class Admission:
    """Counts jobs in flight and refuses new ones beyond the limits, at once, with RetryInfo."""

    max_jobs: int = 1_000
    max_jobs_per_caller: int = 100
    active: int = 0
    by_caller: collections.Counter[str] = field(default_factory=collections.Counter)

    @contextlib.contextmanager
    def admit(self, caller: str, limit: int | None = None) -> Iterator[None]:
        """Holds one job slot for `caller` (at most `limit` at once, else `max_jobs_per_caller`).

        Raises:
            PrizmError: RESOURCE_EXHAUSTED, reason ROUTER_OVERLOADED or
                CALLER_CONCURRENCY_EXCEEDED, with RetryInfo.
        """
        if self.active >= self.max_jobs:
            raise PrizmError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.ROUTER_OVERLOADED,
                f"the router has {self.active} jobs in flight, its limit",
                retry_after_s=RETRY_AFTER_S,
            )
        if self.by_caller[caller] >= (self.max_jobs_per_caller if limit is None else limit):
            raise PrizmError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                Reason.CALLER_CONCURRENCY_EXCEEDED,
                f"this caller already has {self.by_caller[caller]} jobs in flight, its limit",
                retry_after_s=RETRY_AFTER_S,
            )
        self.active += 1
        self.by_caller[caller] += 1
        try:
            yield
        finally:
            self.active -= 1
            self.by_caller[caller] -= 1
            if not self.by_caller[caller]:
                del self.by_caller[caller]
