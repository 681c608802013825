"""The levers for speed, each measured against its alternative in one run."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from benchmarks.load import TRANSFORM, Target, estimate_request, transform_request
from benchmarks.processes import ServerProcess, start_provider, start_router, start_server, write_config
from benchmarks.scenarios import gbps, measure, streams_per_second, transform_ms
from benchmarks.stats import summary
from prizm_core.channels import channel_options
from tests.support.fault_proxy import FaultProxy
from tests.support.mesh import wait_routable

__all__ = ["channel_reuse", "chunk_size", "event_loop", "keepalive", "relay_parsing", "router_workers"]


@contextlib.asynccontextmanager
async def _targets(
    addresses: dict[str, str], connections: int = 1, options: dict[str, list[tuple[str, int]]] | None = None
) -> AsyncIterator[dict[str, Target]]:
    """Opened targets by name; `options`, by name, replaces Prizm's channel options."""
    chosen = options or {}
    targets = {
        name: await Target(name, address, connections, options=chosen.get(name) or channel_options()).open()
        for name, address in addresses.items()
    }
    try:
        yield targets
    finally:
        for target in targets.values():
            await target.close()


def _stop(*servers: ServerProcess) -> None:
    for server in servers:
        server.stop()


async def relay_parsing(rounds: int, calls: int, size: int) -> dict[str, Any]:
    """A bare forwarder relaying events as bytes vs parsing and re-serializing each one."""
    provider = start_provider("synthetic")
    proxies = {
        mode: start_server(
            [sys.executable, "-m", "benchmarks.naive_proxy", "--upstream", provider.address, "--mode", mode]
        )
        for mode in ("bytes", "parsed")
    }
    try:
        addresses = {"direct": provider.address, **{mode: p.address for mode, p in proxies.items()}}
        async with _targets(addresses) as targets:
            latency = await measure(targets, rounds, transform_ms(calls))
            growth: dict[str, list[float]] = {}
            memory = {mode: p.pid for mode, p in proxies.items()}
            bandwidth = await measure(targets, rounds, gbps(size, memory, growth), lower_is_better=False)
            bandwidth["peak_growth_mib"] = {name: max(values) for name, values in growth.items()}
    finally:
        _stop(*proxies.values(), provider)
    return {"transform_ms": latency, "gbps": bandwidth}


async def event_loop(workdir: Path, rounds: int, calls: int, seconds: float) -> dict[str, Any]:
    """The router on uvloop vs the standard asyncio loop."""
    provider = start_provider("synthetic")
    config = write_config(workdir / "loop.yaml", [provider.address])
    routers = {loop: start_router(config, "--loop", loop) for loop in ("uvloop", "asyncio")}
    try:
        for router in routers.values():
            await wait_routable(router.address, 1)
        addresses = {"direct": provider.address, **{f"router-{k}": r.address for k, r in routers.items()}}
        async with _targets(addresses) as targets:
            latency = await measure(targets, rounds, transform_ms(calls))
            rate = await measure(targets, rounds, streams_per_second(32, seconds), lower_is_better=False)
    finally:
        _stop(*routers.values(), provider)
    return {"transform_ms": latency, "streams_per_s_32": rate}


async def chunk_size(workdir: Path, rounds: int, size: int, chunks_kib: list[int]) -> dict[str, Any]:
    """Output chunk size: GB/s of one large output, direct and through the router, per chunk size."""
    result: dict[str, Any] = {}
    for kib in chunks_kib:
        provider = start_provider("synthetic", "--chunk-kib", str(kib))
        router = start_router(write_config(workdir / f"chunk-{kib}.yaml", [provider.address]))
        try:
            await wait_routable(router.address, 1)
            async with _targets({"direct": provider.address, "router": router.address}) as targets:
                result[str(kib)] = await measure(targets, rounds, gbps(size), lower_is_better=False)
        finally:
            _stop(router, provider)
    return result


async def router_workers(workdir: Path, rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    """One router process vs two sharing the port, driven over several connections at 32 streams."""
    provider = start_provider("synthetic")
    config = write_config(workdir / "workers.yaml", [provider.address])
    routers = {n: start_router(config, "--workers", str(n)) for n in (1, 2)}
    try:
        for router in routers.values():
            await wait_routable(router.address, 1)
        addresses = {"direct": provider.address, **{f"workers-{n}": r.address for n, r in routers.items()}}
        async with _targets(addresses, connections) as targets:
            rate = await measure(targets, rounds, streams_per_second(32, seconds), lower_is_better=False)
    finally:
        _stop(*routers.values(), provider)
    return {"streams_per_s_32": rate, "connections": connections}


async def channel_reuse(calls: int) -> dict[str, Any]:
    """EstimateCost direct on one reused channel vs a new channel per call (ms)."""
    provider = start_provider("synthetic")
    request = estimate_request()
    try:
        async with _targets({"direct": provider.address}) as targets:
            reused = [await targets["direct"].unary(request) * 1000 for _ in range(calls)]
        fresh = []
        for _ in range(calls):
            started = time.perf_counter()
            async with grpc.aio.insecure_channel(provider.address, options=channel_options()) as channel:
                call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                    "/prizm.v1.ModelService/EstimateCost"
                )
                await call(request, timeout=10)
            fresh.append((time.perf_counter() - started) * 1000)
    finally:
        provider.stop()
    return {"reused_ms": summary(reused), "new_channel_per_call_ms": summary(fresh)}


def _without_keepalive() -> list[tuple[str, int]]:
    """Prizm's channel options less its keepalive ones: gRPC's defaults (no pings, 20 s ping timeout)."""
    return [(k, v) for k, v in channel_options() if "keepalive" not in k and "ping" not in k]


async def _silent_call_s(address: str, options: list[tuple[str, int]], deadline_s: float) -> float:
    """Starts a long Transform through a fault proxy, stalls the proxy after the first event
    (a peer gone silent: no FIN, no RST) and returns how long the call took to fail."""
    proxy = FaultProxy(address).start()
    request = transform_request(events=10_000, output_bytes=16, interval_ms=50)
    try:
        async with grpc.aio.insecure_channel(proxy.address, options=options) as channel:
            transform: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(TRANSFORM)
            call = transform(request, timeout=deadline_s)
            await call.read()
            proxy.set_mode("stall")
            stalled = time.perf_counter()
            with contextlib.suppress(grpc.aio.AioRpcError):
                while await call.read() is not grpc.aio.EOF:
                    pass
            return time.perf_counter() - stalled
    finally:
        proxy.close()


async def keepalive(
    rounds: int, calls: int, seconds: float, repeats: int, deadline_s: float
) -> dict[str, Any]:
    """Prizm's keepalive (a ping every 5 s, 1 s to answer) vs gRPC's defaults, on one hop to a
    provider: what the pings cost a Transform, and how long a call on a connection that went
    silent takes to fail (without pings, the caller's deadline)."""
    provider = start_provider("synthetic")
    options = {"direct": _without_keepalive(), "keepalive": channel_options()}
    try:
        async with _targets(dict.fromkeys(options, provider.address), options=options) as targets:
            latency = await measure(targets, rounds, transform_ms(calls))
            rate = await measure(targets, rounds, streams_per_second(32, seconds), lower_is_better=False)
        silent: dict[str, list[float]] = {name: [] for name in options}
        for _ in range(repeats):
            for name, chosen in options.items():
                silent[name].append(await _silent_call_s(provider.address, chosen, deadline_s))
    finally:
        provider.stop()
    return {
        "transform_ms": latency,
        "streams_per_s_32": rate,
        "silent_peer_fails_after_s": {name: summary(values) for name, values in silent.items()},
        "deadline_s": deadline_s,
    }
