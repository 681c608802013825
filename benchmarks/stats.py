"""Summaries of samples: median, p99, and ratios to a baseline."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["percentile", "summary"]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile (0..1) by nearest rank; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(samples: Sequence[float]) -> dict[str, float]:
    """Count, median, p99, mean and min of `samples`."""
    return {
        "n": float(len(samples)),
        "p50": statistics.median(samples) if samples else float("nan"),
        "p99": percentile(samples, 0.99),
        "mean": statistics.fmean(samples) if samples else float("nan"),
        "min": min(samples) if samples else float("nan"),
    }
