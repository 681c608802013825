"""Retry throttling (gRFC A6): failovers are allowed only while most recent attempts succeed.

A token bucket starts full; each failed attempt takes a token, each success
returns a fraction of one. Retries are allowed only while more than half the
bucket is left, so when a provider fails every call the router soon stops
retrying and each request costs about one attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryBudget"]


@dataclass
class RetryBudget:
    """gRFC A6's retry throttling token bucket."""

    max_tokens: float = 10.0
    token_ratio: float = 0.1
    tokens: float = -1.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.max_tokens

    def success(self) -> None:
        """An attempt succeeded (or committed): return a fraction of a token."""
        self.tokens = min(self.max_tokens, self.tokens + self.token_ratio)

    def failure(self) -> None:
        """An attempt failed: take a token."""
        self.tokens = max(0.0, self.tokens - 1.0)

    def allows_retry(self) -> bool:
        """Whether another attempt may be made for a failed one."""
        return self.tokens > self.max_tokens / 2
