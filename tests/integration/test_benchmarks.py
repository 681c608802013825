"""The benchmark harness works: a quick run measures every scenario and the report renders it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import _overhead, render
from benchmarks.run import _merged

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_a_quick_benchmark_run_measures_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--no-nginx", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    request = results["request"]
    assert set(request["unary_ms"]) >= {"direct", "router", "ratio_p50", "added_p50"}
    assert request["unary_ms"]["added_p50"]["router"] > 0, "the router adds a hop"
    assert 0 < request["streams_per_s_32"]["ratio_p50"]["router"] < 2
    assert request["large_output_gbps"]["router"]["p50"] > 0
    assert results["detection"]["killed"]["p50"] < 50
    assert set(results["providers"]["ratio_p50_to_1"]) == {"1", "2"}
    intervals = results["providers"]["by_check_interval"]
    assert set(intervals) == {"2@0.25s", "2@1s"}
    assert all(v["router_idle_cpu_pct"] >= 0 and v["p50"] > 0 for v in intervals.values())
    assert all(v["calls"] > 0 for v in results["streams"].values())
    assert set(results["levers"]) == {
        "relay_parsing",
        "event_loop",
        "chunk_size",
        "router_workers",
        "channel_reuse",
        "keepalive",
    }
    # Keepalive pings end a call on a connection gone silent; without them it waits for its deadline.
    keepalive = results["levers"]["keepalive"]
    silent = keepalive["silent_peer_fails_after_s"]
    assert silent["keepalive"]["p50"] < 6.5 < keepalive["deadline_s"] * 0.95 <= silent["direct"]["p50"]
    _check_overhead(results["overhead"], results["plan"])
    text = render(results)
    assert "Where each goal stands" in text and "| EstimateCost p50 (ms)" in text
    assert "### Overhead: metrics, tracing, TLS and auth" in text
    assert "| Transforms/s, 32 concurrent streams | " in text.split("### Overhead")[1]


def _check_overhead(overhead: dict[str, Any], plan: dict[str, Any]) -> None:
    """Every variant was measured in every round, as a ratio to all off, with its setting really on."""
    variants = ["plain", "metrics", "metrics_tracing", "tls", "auth"]
    assert overhead["variants"] == variants
    rounds = overhead["rounds"]
    assert rounds == plan["overhead_rounds"] == 2
    scenarios = ("unary_ms", "transform_10_events_ms", "streams_per_s_32", "router_cpu_ms_per_transform_32")
    for key in scenarios:
        scenario = overhead[key]
        assert set(scenario["ratio_p50"]) == set(variants) - {"plain"}, key
        assert all(ratio > 0 for ratio in scenario["ratio_p50"].values()), key
        assert all(len(r) == rounds and min(r) > 0 for r in scenario["round_ratios"].values()), key
    calls = {
        "unary_ms": plan["overhead_unary_calls"],
        "transform_10_events_ms": plan["overhead_transform_calls"],
    }
    for key, per_round in calls.items():
        assert all(overhead[key][name]["n"] == rounds * per_round for name in variants), key
    # Each variant had its setting on: metrics counted the calls made, the collector received spans,
    # and the TLS and auth routers refused a plaintext call without a key that the plain one served.
    measured = rounds * (plan["overhead_unary_calls"] + plan["overhead_transform_calls"])
    for name in ("metrics", "metrics_tracing"):
        handled = overhead["metrics_handled"][name]
        assert handled["router"] >= measured and handled["provider"] >= measured, name
    assert overhead["spans_exported"]["spans"] >= rounds * plan["overhead_transform_calls"]
    assert overhead["plaintext_call_without_key"] == {
        "plain": "OK",
        "tls": "UNAVAILABLE",
        "auth": "UNAUTHENTICATED",
    }


def _scenario(p50: dict[str, float], rounds: dict[str, list[float]]) -> dict[str, Any]:
    return {**{name: {"p50": v, "p99": 2 * v} for name, v in p50.items()}, "round_ratios": rounds}


def test_the_overhead_table_says_which_ratios_the_rounds_agree_on() -> None:
    clear, mixed = [1.2] * 9 + [0.9], [1.2] * 6 + [0.9] * 4  # above 1 in 9 and in 6 rounds of 10
    p50 = {"plain": 2.0, "metrics": 2.4, "metrics_tracing": 3.0, "tls": 1.6, "auth": 2.2}
    rounds = {"metrics": mixed, "metrics_tracing": clear, "tls": [0.8] * 10, "auth": mixed}
    keys = ("unary_ms", "transform_10_events_ms", "streams_per_s_32")
    keys += tuple(
        f"{p}_cpu_ms_per_{c}" for p in ("router", "provider") for c in ("transform", "transform_32")
    )
    overhead: dict[str, Any] = {key: _scenario(p50, rounds) for key in (*keys, "router_cpu_ms_per_estimate")}
    overhead |= {
        "variants": list(p50),
        "rounds": 10,
        "metrics_handled": {"metrics": {"router": 41, "provider": 42}},
        "spans_exported": {"spans": 300, "exports": 3},
        "plaintext_call_without_key": {"plain": "OK", "tls": "UNAVAILABLE"},
    }
    machine = {"cores": 2, "cpu": "x", "memory_gib": 1, "kernel": "k", "python": "3", "grpcio": "1"}
    run = {"date": "D", "command": "C", "machine": {**machine, "nginx": ""}}
    lines = _overhead({"overhead": overhead, "measured": {"overhead": run}})
    row = next(line for line in lines if line.startswith("| EstimateCost p50"))
    # `~`: under 80 % of the rounds agree with the pooled ratio's direction.
    assert row == (
        "| EstimateCost p50 (ms) | 2.000 | 2.400 · ~1.20x · 6/10 | 3.000 · 1.50x · 9/10 "
        "| 1.600 · 0.80x · 0/10 | 2.200 · ~1.10x · 6/10 |"
    )
    assert "| EstimateCost p99 (ms) | 4.000 | 4.800 · 1.20x |" in "\n".join(lines)
    assert any(line.startswith("Measured D with `C`") for line in lines), "the group's own run"
    assert "counted 41 and 42 RPCs" in lines[-1] and "300 spans in 3 exports" in lines[-1]
    assert _overhead({}) == []


def test_a_merged_run_replaces_only_its_groups() -> None:
    earlier = {"date": "old", "request": {"a": 1}, "levers": {"b": 2}}
    now = {"date": "new", "command": "c", "machine": {"cores": 2}, "plan": {}, "levers": {"b": 3}}
    merged = _merged(earlier, now, ["levers"])
    assert merged["request"] == {"a": 1} and merged["levers"] == {"b": 3} and merged["date"] == "old"
    assert merged["measured"]["levers"]["date"] == "new"
