"""The benchmark harness works: a quick run measures every scenario and the report renders it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import render

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
    text = render(results)
    assert "Where each goal stands" in text and "| EstimateCost p50 (ms)" in text
