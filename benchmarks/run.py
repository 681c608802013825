"""Runs the benchmarks and writes benchmarks/results.json: `python -m benchmarks.run [--quick]`."""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvloop

from benchmarks.detection import failure_detection
from benchmarks.levers import channel_reuse, chunk_size, event_loop, keepalive, relay_parsing, router_workers
from benchmarks.nginx import nginx_available
from benchmarks.overhead import overhead
from benchmarks.processes import cores
from benchmarks.scale import open_streams, provider_count
from benchmarks.scenarios import MIB, gbps, measure, streams_per_second, transform_ms, unary_ms
from benchmarks.stack import stack

RESULTS = Path(__file__).resolve().parent / "results.json"
GROUPS = ("request", "detection", "providers", "streams", "levers", "overhead")


@dataclass(frozen=True)
class Plan:
    """How much of each scenario to run."""

    rounds: int = 5
    unary_calls: int = 400
    transform_calls: int = 200
    seconds: float = 3.0
    large_bytes: int = 256 * MIB
    lever_bytes: int = 128 * MIB
    detection_repeats: int = 3
    provider_counts: list[int] = field(default_factory=lambda: [1, 8, 64])
    slower_checks_s: list[float] = field(default_factory=lambda: [1.0])
    stream_counts: list[int] = field(default_factory=lambda: [1, 10, 100, 1000])
    chunk_kib: list[int] = field(default_factory=lambda: [16, 64, 256, 512, 1024])
    silent_repeats: int = 3
    silent_deadline_s: float = 20.0
    overhead_rounds: int = 10
    overhead_unary_calls: int = 200
    overhead_transform_calls: int = 100
    overhead_seconds: float = 1.5


QUICK = Plan(
    rounds=2,
    unary_calls=30,
    transform_calls=20,
    seconds=1.0,
    large_bytes=8 * MIB,
    lever_bytes=8 * MIB,
    detection_repeats=1,
    provider_counts=[1, 2],
    stream_counts=[1, 10],
    chunk_kib=[64, 512],
    silent_repeats=1,
    silent_deadline_s=7.0,
    overhead_rounds=2,
    overhead_unary_calls=20,
    overhead_transform_calls=10,
    overhead_seconds=0.25,
)


async def _request_path(workdir: Path, plan: Plan, with_nginx: bool) -> dict[str, Any]:
    async with stack(workdir, with_nginx=with_nginx) as built:
        targets, rounds = built.targets, plan.rounds
        memory = {"router": built.router.pid}
        if built.nginx is not None:
            memory["nginx"] = built.nginx.pids()[-1]  # the worker carries the bytes
        growth: dict[str, list[float]] = {}
        results = {
            "unary_ms": await measure(targets, rounds, unary_ms(plan.unary_calls)),
            "transform_10_events_ms": await measure(targets, rounds, transform_ms(plan.transform_calls)),
            "streams_per_s_32": await measure(
                targets, rounds, streams_per_second(32, plan.seconds), lower_is_better=False
            ),
            "large_output_gbps": await measure(
                targets, min(rounds, 3), gbps(plan.large_bytes, memory, growth), lower_is_better=False
            ),
        }
        results["large_output_gbps"]["peak_growth_mib"] = {k: max(v) for k, v in growth.items()}
        results["large_output_gbps"]["size_mib"] = plan.large_bytes / MIB
        return results


async def _levers(workdir: Path, plan: Plan) -> dict[str, Any]:
    return {
        "relay_parsing": await relay_parsing(plan.rounds, plan.transform_calls, plan.lever_bytes),
        "event_loop": await event_loop(workdir, plan.rounds, plan.transform_calls, plan.seconds),
        "chunk_size": await chunk_size(workdir, min(plan.rounds, 3), plan.lever_bytes, plan.chunk_kib),
        "router_workers": await router_workers(workdir, plan.rounds, plan.seconds, connections=4),
        "channel_reuse": await channel_reuse(plan.unary_calls),
        "keepalive": await keepalive(
            plan.rounds, plan.transform_calls, plan.seconds, plan.silent_repeats, plan.silent_deadline_s
        ),
    }


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    nginx = ""
    if nginx_available():
        nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False).stderr.strip()  # noqa: S607
    return {
        "cpu": cpu,
        "cores": cores(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "nginx": nginx,
    }


async def run(groups: list[str], plan: Plan, with_nginx: bool) -> dict[str, Any]:
    """Runs the chosen groups of scenarios and returns everything measured."""
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "machine": _machine(),
        "plan": asdict(plan),
    }
    with tempfile.TemporaryDirectory(prefix="prizm-bench-") as tmp:
        workdir = Path(tmp)
        steps = {
            "request": lambda: _request_path(workdir, plan, with_nginx),
            "detection": lambda: failure_detection(workdir, plan.detection_repeats),
            "providers": lambda: provider_count(
                workdir, plan.provider_counts, plan.rounds, plan.transform_calls, plan.slower_checks_s
            ),
            "streams": lambda: open_streams(workdir, plan.stream_counts, plan.seconds * 2),
            "levers": lambda: _levers(workdir, plan),
            "overhead": lambda: overhead(
                workdir,
                plan.overhead_rounds,
                plan.overhead_unary_calls,
                plan.overhead_transform_calls,
                plan.overhead_seconds,
            ),
        }
        for group in groups:
            print(f"benchmark: {group}", file=sys.stderr, flush=True)
            results[group] = await steps[group]()
    return results


def _merged(earlier: dict[str, Any], results: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """`earlier` results with `groups` replaced by this run's; when and where each group replaced was
    measured goes under `measured`, since the header (date, machine) stays the earlier run's."""
    for group in groups:
        earlier[group] = results[group]
        earlier.setdefault("measured", {})[group] = {
            key: results[key] for key in ("date", "command", "machine", "plan")
        }
    return earlier


def main() -> int:
    """Parses the command line, runs, and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run, to check the harness")
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated groups of: {', '.join(GROUPS)}"
    )
    parser.add_argument(
        "--no-nginx", action="store_true", help="leave nginx out of the request-path scenarios"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other groups already in --out, replacing only these"
    )
    args = parser.parse_args()
    groups = [g for g in args.only.split(",") if g]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}")
    # Only the request path runs nginx.
    with_nginx = not args.no_nginx and "request" in groups
    if with_nginx and not nginx_available():
        parser.error("nginx is not installed (make bench installs it as root), or pass --no-nginx")
    results = uvloop.run(run(groups, QUICK if args.quick else Plan(), with_nginx))
    if args.merge and args.out.is_file():
        results = _merged(json.loads(args.out.read_text()), results, groups)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
