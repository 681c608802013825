"""A provider's job slots: how many run, finished and were refused, and the refusal itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc

from prizm_core.errors import PrizmError, Reason

__all__ = ["JobTracker"]

# How soon a refused caller should try again.
RETRY_AFTER_S = 0.5


class JobTracker:
    """Counts jobs and refuses new ones while the provider is not running or is full.

    Attributes:
        max_jobs: Most jobs at once; 0 means no limit.
        running: Whether the provider takes jobs (warm, service started).
    """

    def __init__(self, max_jobs: int = 0) -> None:
        self.max_jobs = max_jobs
        self.running = False
        self.active = 0
        self.finished = 0
        self.rejected = 0

    @contextlib.contextmanager
    def refusals(self) -> Iterator[None]:
        """Counts a PrizmError raised in the block (a job refused before it started)."""
        try:
            yield
        except PrizmError:
            self.rejected += 1
            raise

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Holds one job slot for the duration of the block.

        Raises:
            PrizmError: UNAVAILABLE NOT_RUNNING before warm-up or after StopService;
                RESOURCE_EXHAUSTED PROVIDER_OVERLOADED (with RetryInfo) when full.
        """
        with self.refusals():
            if not self.running:
                raise PrizmError(
                    grpc.StatusCode.UNAVAILABLE,
                    Reason.NOT_RUNNING,
                    "the provider is not running (warming up or stopped)",
                    retry_after_s=RETRY_AFTER_S,
                )
            if self.max_jobs and self.active >= self.max_jobs:
                raise PrizmError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    Reason.PROVIDER_OVERLOADED,
                    f"the provider runs {self.active} jobs, its limit",
                    retry_after_s=RETRY_AFTER_S,
                )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self.finished += 1
