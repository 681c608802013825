"""Scale: latency with 1 to 64 providers; the router's cost per call and per stream up to 1,000 streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.load import ROUTED_TRANSFORM, Target, transform_request
from benchmarks.processes import (
    ServerProcess,
    cpu_seconds,
    rss_kib,
    start_provider,
    start_router,
    write_config,
)
from benchmarks.stats import summary
from prizm_core.config import HealthSettings
from tests.support.mesh import wait_routable

__all__ = ["open_streams", "provider_count"]


async def provider_count(
    workdir: Path, counts: list[int], rounds: int, calls: int, slower_checks_s: list[float]
) -> dict[str, Any]:
    """Transform p50 (ms) through a router that knows N providers, each N in turn, `rounds` times.

    Every job names the same provider, so what changes is only what the router
    has to know, watch and choose from (not which process does the work). The
    largest N runs again with each of `slower_checks_s` as the health check
    (heartbeat) interval, with the router's and the providers' idle CPU beside it.
    """
    most = max(counts)
    providers = [
        start_provider("synthetic", env={"PRIZM_SYNTHETIC_ID": f"synthetic-{i}"}) for i in range(most)
    ]
    default = HealthSettings()
    runs = [(n, default.check_interval_s) for n in counts] + [(most, s) for s in slower_checks_s]
    samples: dict[tuple[int, float], list[float]] = {run: [] for run in runs}
    idle: dict[tuple[int, float], list[tuple[float, float]]] = {run: [] for run in runs}
    request = transform_request(events=10, output_bytes=1024, provider="synthetic-0")
    try:
        for round_index in range(rounds):
            for n, interval in runs if round_index % 2 == 0 else list(reversed(runs)):
                # A check's timeout keeps its default proportion to the interval.
                timeout = default.check_timeout_s * interval / default.check_interval_s
                health = {"check_interval_s": interval, "check_timeout_s": timeout}
                config = write_config(
                    workdir / f"scale-{n}.yaml", [p.address for p in providers[:n]], health=health
                )
                router = start_router(config)
                try:
                    await wait_routable(router.address, n, timeout=120)
                    await asyncio.sleep(1.0)  # let the health checks settle into their rhythm
                    idle[n, interval].append(await _idle_cpu(router, providers[:n]))
                    target = await Target("router", router.address, transform=ROUTED_TRANSFORM).open()
                    for _ in range(50):
                        await target.stream(request)
                    samples[n, interval] += [(await target.stream(request))[0] * 1000 for _ in range(calls)]
                    await target.close()
                finally:
                    router.stop()
    finally:
        for provider in providers:
            provider.stop()
    result: dict[str, Any] = {str(n): summary(samples[n, interval]) for n, interval in runs[: len(counts)]}
    base = result[str(counts[0])]["p50"]
    result["ratio_p50_to_1"] = {str(n): result[str(n)]["p50"] / base for n in counts}
    result["by_check_interval"] = {}
    for n, interval in runs:
        if n == most:
            p50 = summary(samples[n, interval])["p50"]
            result["by_check_interval"][f"{n}@{interval:g}s"] = {
                "p50": p50,
                "ratio_p50_to_1": p50 / base,
                "router_idle_cpu_pct": round(100 * min(r for r, _ in idle[n, interval]), 1),
                "providers_idle_cpu_pct": round(100 * min(p for _, p in idle[n, interval]), 1),
            }
    return result


async def _idle_cpu(
    router: ServerProcess, providers: list[ServerProcess], seconds: float = 2.0
) -> tuple[float, float]:
    """The router's and the providers' (together) CPU use while no job runs, as fractions of a core."""
    before = cpu_seconds(router.pid), sum(cpu_seconds(p.pid) for p in providers)
    await asyncio.sleep(seconds)
    after = cpu_seconds(router.pid), sum(cpu_seconds(p.pid) for p in providers)
    return (after[0] - before[0]) / seconds, (after[1] - before[1]) / seconds


async def _all_open(flags: list[asyncio.Event], holders: list[asyncio.Task[Any]], n: int) -> None:
    """Waits until every stream has had its first event; fails at once if one of them fails."""
    opened: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(f.wait() for f in flags)))
    done, _ = await asyncio.wait([opened, *holders], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if opened not in done:  # a held stream ended (they never should) or the wait ran out
        opened.cancel()
        ended = [h.exception() if not h.cancelled() else "cancelled" for h in holders if h.done()]
        raise RuntimeError(f"of {n} streams, {len(ended)} ended early (first: {ended[:1]}) or never opened")


async def open_streams(workdir: Path, counts: list[int], seconds: float) -> dict[str, Any]:
    """For N open streams: router memory per stream (KiB) and router CPU per call (ms)."""
    provider = start_provider("synthetic")
    config = write_config(
        workdir / "streams.yaml", [provider.address], max_jobs=100_000, max_jobs_per_caller=100_000
    )
    router = start_router(config)
    result: dict[str, Any] = {}
    try:
        await wait_routable(router.address, 1)
        target = await Target("router", router.address, connections=4).open()
        long_job = transform_request(events=600, output_bytes=16, interval_ms=1000)
        short_job = transform_request(events=2, output_bytes=16)
        for n in counts:
            await asyncio.sleep(1.0)
            before = rss_kib(router.pid)
            flags = [asyncio.Event() for _ in range(n)]
            holders = [asyncio.create_task(target.stream(long_job, i, first=flags[i])) for i in range(n)]
            await _all_open(flags, holders, n)
            await asyncio.sleep(0.5)
            per_stream_kib = (rss_kib(router.pid) - before) / n
            for holder in holders:
                holder.cancel()
            await asyncio.gather(*holders, return_exceptions=True)
            await asyncio.sleep(1.0)

            # The router's own background work (health checks) is measured idle and taken off.
            idle_before, idle_started = cpu_seconds(router.pid), time.perf_counter()
            await asyncio.sleep(1.0)
            idle_rate = (cpu_seconds(router.pid) - idle_before) / (time.perf_counter() - idle_started)
            cpu_before, started = cpu_seconds(router.pid), time.perf_counter()
            done = await target.drive(short_job, n, seconds)
            cpu = cpu_seconds(router.pid) - cpu_before - idle_rate * (time.perf_counter() - started)
            result[str(n)] = {
                "memory_per_stream_kib": round(per_stream_kib, 1),
                "calls": done,
                "cpu_per_call_ms": round(cpu / done * 1000, 3) if done else float("nan"),
            }
        await target.close()
    finally:
        router.stop()
        provider.stop()
    return result
