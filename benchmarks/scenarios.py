"""The request-path measurements: samplers that run on any target, and the comparisons between targets."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.load import Target, estimate_request, transform_request
from benchmarks.processes import PeakRss
from benchmarks.stack import alternate
from benchmarks.stats import summary

__all__ = [
    "MIB",
    "Sampler",
    "compare",
    "gbps",
    "streams_per_second",
    "transform_ms",
    "unary_ms",
]

MIB = 1024 * 1024
Sampler = Callable[[Target], Awaitable[list[float]]]


def compare(
    samples: dict[str, list[float]], lower_is_better: bool = True, baseline: str = "direct"
) -> dict[str, Any]:
    """Summaries per target, with p50 ratios to `baseline` and (for latencies) the p50 added over it."""
    result: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
    base = result[baseline]["p50"] or float("nan")  # a CPU time below the clock's tick reads 0
    result["ratio_p50"] = {name: result[name]["p50"] / base for name in samples if name != baseline}
    if lower_is_better:
        result["added_p50"] = {name: result[name]["p50"] - base for name in samples if name != baseline}
    return result


async def _warm(target: Target, request: bytes, unary: bool) -> None:
    for _ in range(30):
        await (target.unary(request) if unary else target.stream(request))


def unary_ms(calls: int) -> Sampler:
    """Sequential EstimateCost calls: milliseconds each."""
    request = estimate_request()

    async def sample(target: Target) -> list[float]:
        await _warm(target, request, unary=True)
        return [await target.unary(request) * 1000 for _ in range(calls)]

    return sample


def transform_ms(calls: int, events: int = 10) -> Sampler:
    """Sequential Transforms with `events` progress events and 1 KiB out: milliseconds to the last event."""
    request = transform_request(events=events, output_bytes=1024)

    async def sample(target: Target) -> list[float]:
        await _warm(target, request, unary=False)
        return [(await target.stream(request))[0] * 1000 for _ in range(calls)]

    return sample


def streams_per_second(concurrency: int, seconds: float) -> Sampler:
    """Transforms (10 events, 1 KiB out) from `concurrency` concurrent streams: completed per second."""
    request = transform_request(events=10, output_bytes=1024)

    async def sample(target: Target) -> list[float]:
        await _warm(target, request, unary=False)
        started = time.perf_counter()
        done = await target.drive(request, concurrency, seconds)
        return [done / (time.perf_counter() - started)]

    return sample


def gbps(
    size: int, memory: dict[str, int] | None = None, growth: dict[str, list[float]] | None = None
) -> Sampler:
    """One Transform with a `size`-byte output: GB/s.

    With `memory` (target name to the PID carrying its bytes), the peak memory
    growth of that process during each transfer is added to `growth` (MiB).
    """
    request = transform_request(events=1, output_bytes=size)

    async def sample(target: Target) -> list[float]:
        pid = (memory or {}).get(target.name, 0)
        sampler = PeakRss(pid) if pid else None
        with sampler or contextlib.nullcontext():
            took, received = await target.stream(request)
        if received < size:
            raise RuntimeError(f"{target.name}: {received} of {size} bytes")
        if sampler is not None and growth is not None:
            growth.setdefault(target.name, []).append(sampler.growth_mib)
        return [received / took / 1e9]

    return sample


async def measure(
    targets: dict[str, Target], rounds: int, sampler: Sampler, lower_is_better: bool = True
) -> dict[str, Any]:
    """Alternating rounds of `sampler` over `targets`, compared to `direct`."""
    return compare(await alternate(targets, rounds, sampler), lower_is_better)
