"""What observability and security cost a call: metrics, tracing, TLS and auth each on vs all off.

Each variant is a synthetic provider with a router in front of it, started the same way but for the
one setting; the same client drives them all in alternating rounds, and every figure is a ratio to
the plain pair (`plain`) measured in the same rounds:

- `plain`: metrics, tracing, TLS and auth off.
- `metrics`: Prometheus metrics on, in the router and the provider (`--metrics-port`).
- `metrics_tracing`: metrics, and OpenTelemetry tracing in both (sample ratio 1.0), spans exported
  in batches over OTLP/gRPC to a local collector (`benchmarks.otlp_sink`) that decodes and counts them.
- `tls`: the caller dials the router over TLS, the router dials the provider over mTLS (`prizm certs`).
- `auth`: the router checks an API key on every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from prizm.v1 import router_service_pb2 as router_pb
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.load import Target, estimate_request, transform_request
from benchmarks.otlp_sink import read_counts
from benchmarks.processes import (
    ServerProcess,
    cpu_seconds,
    start_provider,
    start_router,
    start_server,
    write_config,
)
from benchmarks.scenarios import compare
from prizm_core.client import PrizmClient
from prizm_core.security.callers import hash_key, new_key
from prizm_core.security.certs import make_mesh
from prizm_core.security.tls import ClientTls, channel_credentials
from provider_servers.contract.polling import wait_until

__all__ = ["BASELINE", "VARIANTS", "overhead"]

VARIANTS = ("plain", "metrics", "metrics_tracing", "tls", "auth")
BASELINE = "plain"
_ESTIMATE = "/prizm.v1.ModelService/EstimateCost"
_METRICS_LINE = re.compile(r"metrics on http://(\S+)/metrics")


@dataclass(frozen=True)
class _Mesh:
    """What every variant is started from: the certificates, the collector, the API key."""

    workdir: Path
    certs: Path
    collector: str
    key: str = field(default_factory=new_key)


@dataclass
class _Pair:
    """One variant's provider and router, and how the client reaches the router."""

    name: str
    provider: ServerProcess
    router: ServerProcess
    tls: ClientTls | None = None
    api_key: str | None = None


def _settings(name: str, mesh: _Mesh) -> tuple[list[str], list[str], dict[str, str], dict[str, Any]]:
    """Provider flags, router flags, both processes' environment and the router's config, for `name`."""
    certs = mesh.certs
    metrics = ["--metrics-port", "0"] if name in ("metrics", "metrics_tracing") else []
    # Tracing stays off in the others even if this process's environment names a collector.
    untraced = {"OTEL_SDK_DISABLED": "true"}
    if name == "metrics_tracing":
        endpoint = f"http://{mesh.collector}"
        # The router reads its config; the provider reads the standard variable (as sidecars do).
        return (
            metrics,
            metrics,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
            {"tracing": {"otlp_endpoint": endpoint, "sample_ratio": 1.0}},
        )
    if name == "tls":
        provider = ["--tls-cert", str(certs / "provider.pem"), "--tls-key", str(certs / "provider.key")]
        provider += ["--tls-client-ca", str(certs / "ca.pem")]
        tls = {"cert": "router.pem", "key": "router.key", "ca": "ca.pem"}
        tls |= {"client_cert": "router-client.pem", "client_key": "router-client.key"}
        return provider, [], untraced, {"tls": {k: str(certs / v) for k, v in tls.items()}}
    if name == "auth":
        auth = {"api_keys": [{"caller": "bench", "sha256": hash_key(mesh.key)}], "callers": {"bench": {}}}
        return [], [], untraced, {"auth": auth}
    return metrics, metrics, untraced, {}


def _start_pair(name: str, mesh: _Mesh) -> _Pair:
    provider_args, router_args, env, settings = _settings(name, mesh)
    provider = start_provider("synthetic", *provider_args, env=env)
    try:
        config = write_config(mesh.workdir / f"overhead-{name}.yaml", [provider.address], **settings)
        router = start_router(config, *router_args, env=env)
    except BaseException:
        provider.stop()
        raise
    pair = _Pair(name, provider, router)
    if name == "tls":
        pair.tls = ClientTls(ca=mesh.certs / "ca.pem")
    if name == "auth":
        pair.api_key = mesh.key
    return pair


def _stop(pair: _Pair) -> None:
    pair.router.stop()
    pair.provider.stop()


async def _routable(pair: _Pair) -> None:
    async with PrizmClient(pair.router.address, tls=pair.tls, api_key=pair.api_key) as client:

        async def ready() -> bool:
            endpoints = await client.list_providers()
            return any(e.state == router_pb.ENDPOINT_STATE_SERVING for e in endpoints)

        await wait_until(ready, 60, interval=0.05)


def _target(pair: _Pair) -> Target:
    credentials = channel_credentials(pair.tls) if pair.tls is not None else None
    metadata = (("authorization", f"Bearer {pair.api_key}"),) if pair.api_key else ()
    return Target(pair.name, pair.router.address, credentials=credentials, metadata=metadata)


@contextlib.asynccontextmanager
async def _pairs(mesh: _Mesh) -> AsyncIterator[list[_Pair]]:
    """Every variant's pair, started side by side, routable, stopped on exit."""
    started = await asyncio.gather(
        *(asyncio.to_thread(_start_pair, name, mesh) for name in VARIANTS), return_exceptions=True
    )
    pairs = [p for p in started if isinstance(p, _Pair)]
    try:
        failed = [e for e in started if isinstance(e, BaseException)]
        if failed:
            raise failed[0]
        await asyncio.gather(*(_routable(pair) for pair in pairs))
        yield pairs
    finally:
        # Stopping flushes the tracing pair's last batch of spans to the collector.
        await asyncio.gather(*(asyncio.to_thread(_stop, pair) for pair in pairs))


@contextlib.contextmanager
def _collector(workdir: Path) -> Iterator[tuple[ServerProcess, Path]]:
    counts = workdir / "otlp-counts.json"
    sink = start_server([sys.executable, "-m", "benchmarks.otlp_sink", "--counts", str(counts)])
    try:
        yield sink, counts
    finally:
        sink.stop()


@dataclass(frozen=True)
class _Visit:
    """What one visit to a variant measures, in this order, after a few calls to warm up."""

    unary_calls: int
    transform_calls: int
    seconds: float
    warm: int = 3
    concurrency: int = 32


async def _warm_up(target: Target, calls: int) -> tuple[bytes, bytes]:
    """`calls` EstimateCosts and Transforms on `target`; returns those two requests."""
    estimate, transform = estimate_request(), transform_request(events=10, output_bytes=1024)
    for _ in range(calls):
        await target.unary(estimate)
        await target.stream(transform)
    return estimate, transform


class _Cpu:
    """CPU seconds the router and the provider use between `start` and `per_call`; their idle
    background work (health heartbeats, a few ms a second) is included, the same in every variant."""

    def __init__(self, pids: tuple[int, int]) -> None:
        self.pids = pids
        self.before = (0.0, 0.0)

    def start(self) -> None:
        """Notes both processes' CPU time now."""
        self.before = cpu_seconds(self.pids[0]), cpu_seconds(self.pids[1])

    def per_call(self, calls: int) -> tuple[float, float]:
        """Milliseconds of CPU per call since `start`: the router's, the provider's."""
        used = [cpu_seconds(pid) - before for pid, before in zip(self.pids, self.before, strict=True)]
        return used[0] / max(calls, 1) * 1000, used[1] / max(calls, 1) * 1000


async def _visit(target: Target, visit: _Visit, pids: tuple[int, int]) -> dict[str, list[float]]:
    """One variant's turn in a round: EstimateCost and Transform latencies (ms), Transforms/s at
    `concurrency` streams, and the router's and the provider's CPU per call (ms) during each.

    CPU time per call is the steadier figure on a shared machine: other load stretches latencies
    but hardly the CPU a process spends on a call.
    """
    estimate, transform = await _warm_up(target, visit.warm)
    cpu = _Cpu(pids)
    cpu.start()
    unary = [await target.unary(estimate) * 1000 for _ in range(visit.unary_calls)]
    unary_cpu = cpu.per_call(visit.unary_calls)
    cpu.start()
    streamed = [(await target.stream(transform))[0] * 1000 for _ in range(visit.transform_calls)]
    transform_cpu = cpu.per_call(visit.transform_calls)
    cpu.start()
    started = time.perf_counter()
    done = await target.drive(transform, visit.concurrency, visit.seconds)
    took = time.perf_counter() - started
    streams_cpu = cpu.per_call(done)
    return {
        "unary_ms": unary,
        "transform_10_events_ms": streamed,
        "streams_per_s_32": [done / took],
        "router_cpu_ms_per_estimate": [unary_cpu[0]],
        "provider_cpu_ms_per_estimate": [unary_cpu[1]],
        "router_cpu_ms_per_transform": [transform_cpu[0]],
        "provider_cpu_ms_per_transform": [transform_cpu[1]],
        "router_cpu_ms_per_transform_32": [streams_cpu[0]],
        "provider_cpu_ms_per_transform_32": [streams_cpu[1]],
    }


_HIGHER_IS_BETTER = ("streams_per_s_32",)


async def _rounds(
    targets: dict[str, Target], rounds: int, visit: _Visit, pids: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """Alternating rounds of visits (the order rotates each round), each scenario compared to `plain`.

    Besides the pooled figures, `round_ratios` holds each variant's p50 over plain's in every round:
    how far those spread is the noise a pooled ratio should be read against.
    """
    names = list(targets)
    pooled: dict[str, dict[str, list[float]]] = {}
    per_round: dict[str, dict[str, list[float]]] = {}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            for scenario, values in (await _visit(targets[name], visit, pids[name])).items():
                pooled.setdefault(scenario, {}).setdefault(name, []).extend(values)
                per_round.setdefault(scenario, {}).setdefault(name, []).append(statistics.median(values))
    result: dict[str, Any] = {}
    for scenario, samples in pooled.items():
        result[scenario] = compare(samples, scenario not in _HIGHER_IS_BETTER, BASELINE)
        rounds_p50 = per_round[scenario]
        # A CPU time below the clock's tick reads 0: no ratio then.
        bases = [b or float("nan") for b in rounds_p50[BASELINE]]
        result[scenario]["round_ratios"] = {
            name: [v / b for v, b in zip(rounds_p50[name], bases, strict=True)]
            for name in names
            if name != BASELINE
        }
    return result


async def _metrics_address(server: ServerProcess) -> str:
    """Where `server` serves its metrics, from the line it logs at start."""
    found: list[str] = []

    async def logged() -> bool:
        found.extend(m.group(1) for m in map(_METRICS_LINE.search, list(server.log)) if m)
        return bool(found)

    await wait_until(logged, 10, interval=0.05)
    return found[0]


async def _handled(server: ServerProcess) -> int:
    """The RPCs `server` counted in `grpc_server_handled_total`: proof that its metrics were on."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://{await _metrics_address(server)}/metrics", timeout=10)
    response.raise_for_status()
    return round(
        sum(
            sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "grpc_server_handled_total"
        )
    )


async def _bare_call(address: str) -> str:
    """The status of one EstimateCost in plaintext and without a credential."""
    async with grpc.aio.insecure_channel(address) as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(_ESTIMATE)
        try:
            await call(estimate_request(), timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
    return "OK"


async def _checks(pairs: dict[str, _Pair]) -> dict[str, Any]:
    """That each variant had its setting on: RPCs counted by the metrics pairs, and a plaintext call
    without a key served by the plain router and refused by the TLS and the auth ones."""
    handled = {
        name: {
            "router": await _handled(pairs[name].router),
            "provider": await _handled(pairs[name].provider),
        }
        for name in ("metrics", "metrics_tracing")
    }
    bare = {name: await _bare_call(pairs[name].router.address) for name in ("plain", "tls", "auth")}
    return {"metrics_handled": handled, "plaintext_call_without_key": bare}


async def overhead(
    workdir: Path, rounds: int, unary_calls: int, transform_calls: int, seconds: float
) -> dict[str, Any]:
    """Every variant's EstimateCost and Transform latency, Transforms/s at 32 streams and CPU per
    call, as ratios to `plain`, measured in the same alternating rounds."""
    certs = workdir / "overhead-certs"
    make_mesh(certs, force=True)
    visit = _Visit(unary_calls, transform_calls, seconds)
    with _collector(workdir) as (sink, counts):
        mesh = _Mesh(workdir=workdir, certs=certs, collector=sink.address)
        async with _pairs(mesh) as pairs:
            targets = {pair.name: await _target(pair).open() for pair in pairs}
            pids = {pair.name: (pair.router.pid, pair.provider.pid) for pair in pairs}
            try:
                for target in targets.values():  # once, before the rounds: first calls set things up
                    await _warm_up(target, 5)
                result = await _rounds(targets, rounds, visit, pids)
            finally:
                for target in targets.values():
                    await target.close()
            result |= await _checks({pair.name: pair for pair in pairs})
        # Read once every pair has stopped: the spans flushed at exit are counted too.
        result["spans_exported"] = read_counts(counts)
    result["rounds"] = rounds
    result["variants"] = list(VARIANTS)
    return result
