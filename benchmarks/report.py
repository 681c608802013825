"""Writes the results section of benchmarks/README.md from benchmarks/results.json."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _request(results: dict[str, Any]) -> list[str]:
    request = results["request"]
    names = [n for n in ("direct", "router", "nginx") if n in request["unary_ms"]]
    rows = [
        "| scenario | " + " | ".join(names) + " | router / direct | nginx / direct |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for key, label, digits in (
        ("unary_ms", "EstimateCost p50 (ms)", 3),
        ("transform_10_events_ms", "Transform, 10 events, p50 (ms)", 2),
        ("streams_per_s_32", "Transforms/s, 32 concurrent streams", 0),
        ("large_output_gbps", f"{request['large_output_gbps']['size_mib']:.0f} MiB output (GB/s)", 3),
    ):
        scenario = request[key]
        values = " | ".join(_f(scenario[n]["p50"], digits) for n in names)
        ratios = " | ".join(_f(scenario["ratio_p50"].get(n, float("nan"))) for n in ("router", "nginx"))
        rows.append(f"| {label} | {values} | {ratios} |")
    for key, label in (
        ("unary_ms", "EstimateCost p99 (ms)"),
        ("transform_10_events_ms", "Transform p99 (ms)"),
    ):
        values = " | ".join(_f(request[key][n]["p99"], 3) for n in names)
        rows.append(f"| {label} | {values} | | |")
    return rows


def _targets(results: dict[str, Any]) -> list[str]:
    request = results["request"]
    unary, transform = request["unary_ms"], request["transform_10_events_ms"]
    large = request["large_output_gbps"]
    detection = results.get("detection", {})
    providers = results.get("providers", {}).get("ratio_p50_to_1", {})
    streams = results.get("streams", {})
    added_router, added_nginx = unary["added_p50"]["router"], unary["added_p50"].get("nginx", float("nan"))
    rows = ["| goal | measured | met |", "|---|---|---|"]

    def row(goal: str, measured: str, met: bool) -> None:
        rows.append(f"| {goal} | {measured} | {'yes' if met else 'no'} |")

    row(
        "router added latency p50 ≤ 2x nginx's",
        f"+{added_router:.3f} ms vs +{added_nginx:.3f} ms ({added_router / added_nginx:.1f}x)",
        added_router <= 2 * added_nginx,
    )
    ratio = transform["ratio_p50"]["router"]
    row("Transform p50 ≤ 1.6x direct", f"{ratio:.2f}x", ratio <= 1.6)
    ratio = request["streams_per_s_32"]["ratio_p50"]["router"]
    row("throughput at 32 streams ≥ 0.8x direct", f"{ratio:.2f}x", ratio >= 0.8)
    ratio = large["ratio_p50"]["router"]
    row(f"{large['size_mib']:.0f} MiB output ≥ 0.8x direct GB/s", f"{ratio:.2f}x", ratio >= 0.8)
    growth = large["peak_growth_mib"].get("router", float("nan"))
    row("router memory growth ≤ 16 MiB per stream", f"{growth:.1f} MiB", growth <= 16)
    if detection:
        killed, hung = detection["killed"]["p50"], detection["hung"]["p50"]
        row("crash detection ≤ 10 ms", f"{killed:.1f} ms", killed <= 10)
        row("hung provider ≤ 1 s", f"{hung:.0f} ms", hung <= 1000)
    if providers:
        most = max(providers, key=int)
        row(
            f"1 → {most} providers: latency within 5%",
            f"{providers[most]:.3f}x",
            abs(providers[most] - 1) <= 0.05,
        )
    if streams:
        # Flat means no growth with the number of streams; falling (the loop batches wakeups) is fine.
        cpu = [streams[n]["cpu_per_call_ms"] for n in sorted(streams, key=int)]
        row(
            f"CPU per call flat (no growth) from {min(streams, key=int)} to {max(streams, key=int)} streams",
            " / ".join(f"{c:.2f}" for c in cpu) + " ms",
            max(cpu) <= 1.25 * cpu[0],
        )
    return rows


def _detection(results: dict[str, Any]) -> list[str]:
    detection = results.get("detection")
    if not detection:
        return []
    rows = ["| fault | p50 (ms) | max (ms) |", "|---|---|---|"]
    for fault, values in detection.items():
        rows.append(f"| {fault.replace('_', ' ')} | {values['p50']:.1f} | {values['p99']:.1f} |")
    return rows


def _scale(results: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    providers = results.get("providers")
    if providers:
        rows += ["| providers known | Transform p50 (ms) | ratio to 1 |", "|---|---|---|"]
        for n, ratio in sorted(providers["ratio_p50_to_1"].items(), key=lambda item: int(item[0])):
            rows.append(f"| {n} | {providers[n]['p50']:.2f} | {ratio:.3f} |")
        rows.append("")
        intervals = providers.get("by_check_interval", {})
        if intervals:
            rows += [
                "| providers @ health check interval | Transform p50 (ms) | ratio to 1 | router idle CPU "
                "| providers' idle CPU (all) |",
                "|---|---|---|---|---|",
            ]
            for key, v in intervals.items():
                rows.append(
                    f"| {key} | {v['p50']:.2f} | {v['ratio_p50_to_1']:.3f} "
                    f"| {v['router_idle_cpu_pct']:.1f} % | {v['providers_idle_cpu_pct']:.1f} % |"
                )
            rows.append("")
    streams = results.get("streams")
    if streams:
        rows += [
            "| open streams | router memory per stream (KiB) | router CPU per call (ms) | calls |",
            "|---|---|---|---|",
        ]
        for n, v in streams.items():
            rows.append(f"| {n} | {v['memory_per_stream_kib']} | {v['cpu_per_call_ms']} | {v['calls']} |")
    return rows


def _levers(results: dict[str, Any]) -> list[str]:
    levers = results.get("levers")
    if not levers:
        return []
    relay, loop = levers["relay_parsing"], levers["event_loop"]
    reuse, workers = levers["channel_reuse"], levers["router_workers"]["streams_per_s_32"]
    added = relay["transform_ms"]["added_p50"]
    gbps = {mode: relay["gbps"][mode]["p50"] for mode in ("bytes", "parsed")}
    latency = {
        loop_name: loop["transform_ms"][f"router-{loop_name}"]["p50"] for loop_name in ("uvloop", "asyncio")
    }
    rate = {
        loop_name: loop["streams_per_s_32"][f"router-{loop_name}"]["p50"]
        for loop_name in ("uvloop", "asyncio")
    }
    chunks = " · ".join(
        f"{kib} KiB: {v['router']['p50']:.3f} GB/s ({v['ratio_p50']['router']:.2f}x)"
        for kib, v in sorted(levers["chunk_size"].items(), key=lambda item: int(item[0]))
    )
    connections = levers["router_workers"]["connections"]
    return [
        "| lever | measured | kept |",
        "|---|---|---|",
        "| relay events as bytes, not parsed and re-serialized (bare forwarder) | Transform added p50 "
        f"+{added['bytes']:.2f} vs +{added['parsed']:.2f} ms; "
        f"{gbps['bytes']:.3f} vs {gbps['parsed']:.3f} GB/s | yes (see below) |",
        f"| uvloop instead of asyncio's loop (router) | Transform p50 {latency['uvloop']:.2f} vs "
        f"{latency['asyncio']:.2f} ms; {rate['uvloop']:.0f} vs {rate['asyncio']:.0f} streams/s | yes |",
        f"| reuse channels and stubs | EstimateCost p50 {reuse['reused_ms']['p50']:.3f} ms vs "
        f"{reuse['new_channel_per_call_ms']['p50']:.3f} ms with a new channel per call | yes |",
        f"| output chunk size (through the router) | {chunks} | 512 KiB |",
        f"| 2 router processes on one port vs 1, over {connections} connections | "
        f"{workers['workers-2']['p50']:.0f} vs {workers['workers-1']['p50']:.0f} streams/s "
        f"(direct {workers['direct']['p50']:.0f}) | opt-in (`--workers`) |",
        *_keepalive(levers.get("keepalive")),
    ]


def _keepalive(keepalive: dict[str, Any] | None) -> list[str]:
    if not keepalive:
        return []
    latency, rate = keepalive["transform_ms"], keepalive["streams_per_s_32"]
    silent = keepalive["silent_peer_fails_after_s"]
    return [
        "| keepalive pings every 5 s, 1 s to answer, vs gRPC's defaults (one hop to a provider) | "
        f"Transform p50 {latency['keepalive']['p50']:.2f} vs {latency['direct']['p50']:.2f} ms; "
        f"{rate['keepalive']['p50']:.0f} vs {rate['direct']['p50']:.0f} streams/s; a call on a connection "
        f"gone silent fails after {silent['keepalive']['p50']:.1f} s vs {silent['direct']['p50']:.1f} s "
        f"(its {keepalive['deadline_s']:.0f} s deadline) | yes |",
    ]


_VARIANT_LABELS = {
    "plain": "all off",
    "metrics": "metrics",
    "metrics_tracing": "metrics + tracing",
    "tls": "TLS (mTLS to the provider)",
    "auth": "API key",
}
_OVERHEAD_ROWS = (
    ("unary_ms", "p50", "EstimateCost p50 (ms)", 3),
    ("unary_ms", "p99", "EstimateCost p99 (ms)", 3),
    ("transform_10_events_ms", "p50", "Transform, 10 events, p50 (ms)", 2),
    ("transform_10_events_ms", "p99", "Transform p99 (ms)", 2),
    ("streams_per_s_32", "p50", "Transforms/s, 32 concurrent streams", 0),
    ("router_cpu_ms_per_estimate", "p50", "router CPU per EstimateCost (ms)", 3),
    ("router_cpu_ms_per_transform", "p50", "router CPU per Transform (ms)", 2),
    ("provider_cpu_ms_per_transform", "p50", "provider CPU per Transform (ms)", 2),
    ("router_cpu_ms_per_transform_32", "p50", "router CPU per Transform at 32 streams (ms)", 2),
    ("provider_cpu_ms_per_transform_32", "p50", "provider CPU per Transform at 32 streams (ms)", 2),
)


def _overhead_cell(scenario: dict[str, Any], name: str, stat: str, digits: int) -> str:
    """A variant's figure · its ratio to all off · (for p50s) in how many rounds the ratio was above 1;
    `~` marks a ratio that under 80 % of the rounds agree with: within this run's noise."""
    value = scenario[name][stat]
    if name == "plain":
        return _f(value, digits)
    ratio = value / scenario["plain"][stat]
    if stat != "p50":
        return f"{_f(value, digits)} · {ratio:.2f}x"
    rounds = scenario["round_ratios"][name]
    above = sum(r > 1 for r in rounds)
    agree = above if ratio > 1 else len(rounds) - above
    noise = "" if agree >= 0.8 * len(rounds) else "~"
    return f"{_f(value, digits)} · {noise}{ratio:.2f}x · {above}/{len(rounds)}"


def _overhead(results: dict[str, Any]) -> list[str]:
    overhead = results.get("overhead")
    if not overhead:
        return []
    names = overhead["variants"]
    rows = [
        "",
        "### Overhead: metrics, tracing, TLS and auth (alternating rounds, ratios to all off)",
        "",
        _header(results.get("measured", {}).get("overhead", results)),
        "",
        "| scenario | " + " | ".join(_VARIANT_LABELS.get(n, n) for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, stat, label, digits in _OVERHEAD_ROWS:
        cells = " | ".join(_overhead_cell(overhead[key], n, stat, digits) for n in names)
        rows.append(f"| {label} | {cells} |")
    handled, spans = overhead["metrics_handled"], overhead["spans_exported"]
    bare = overhead.get("plaintext_call_without_key", {})
    refused = ", ".join(f"{name}: {code}" for name, code in bare.items())
    rows += [
        "",
        "Each cell: the figure · its ratio to all off (medians over all rounds) · in how many of the "
        f"{overhead['rounds']} rounds the variant's own ratio was above 1. `~`: fewer than 80 % of "
        "the rounds agree with the ratio's direction, so it is within this run's noise. Checked in "
        f"the same run: the metrics pair's router and provider counted {handled['metrics']['router']} "
        f"and {handled['metrics']['provider']} RPCs (`grpc_server_handled_total`); the collector "
        f"received {spans['spans']} spans in {spans['exports']} exports; a plaintext call without a "
        f"key: {refused or 'not checked'}.",
    ]
    return rows


def _header(results: dict[str, Any]) -> str:
    machine = results["machine"]
    return (
        f"Measured {results['date']} with `{results['command']}` on {machine['cores']} cores "
        f"({machine['cpu']}), {machine['memory_gib']} GiB, Linux {machine['kernel']}, "
        f"Python {machine['python']}, grpcio {machine['grpcio']}, {machine['nginx'] or 'no nginx'}. "
        "Raw numbers: [results.json](results.json)."
    )


def render(results: dict[str, Any]) -> str:
    """The Markdown of the results section."""
    lines = [
        START,
        _header(results),
        "",
        "### Where each goal stands",
        "",
        *_targets(results),
        "",
        "### Request path: direct, router, nginx (alternating rounds)",
        "",
        *_request(results),
        "",
        "### Failure detection (router)",
        "",
        *_detection(results),
        "",
        "### Scale",
        "",
        *_scale(results),
        "",
        "### Levers",
        "",
        *_levers(results),
        *_overhead(results),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    """Rewrites the results section of the README from results.json."""
    results = json.loads((HERE / "results.json").read_text())
    readme = HERE / "README.md"
    text = readme.read_text()
    if START not in text:
        print(f"{readme} has no {START} marker", file=sys.stderr)
        return 1
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: render(results), text))
    print(f"updated {readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
