"""Prints the figures the fault tests measured (out/reliability.json) as a Markdown table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().parent.parent / "out" / "reliability.json"

# Figure key -> what it measures, and the bound the tests hold it to.
ROWS = {
    "detect_sigkill_ms": ("SIGKILLed provider out of rotation (ms)", "≤ 50"),
    "detect_sigstop_ms": ("hung provider (SIGSTOP) ejected (ms)", "≤ 2000"),
    "detect_blocked_loop_ms": ("provider with a blocked event loop ejected (ms)", "≤ 2000"),
    "detect_stalled_network_ms": ("stalled network path (fault proxy) ejected (ms)", "≤ 2000"),
    "readmit_after_restart_ms": ("restarted provider routable after it serves (ms)", "≤ 1000"),
    "readmit_after_sigcont_ms": ("hung provider back after SIGCONT (ms)", "-"),
    "flap_toggles_in_10_s": ("health toggles of a flapping provider in 10 s", "-"),
    "flap_routing_changes_in_10_s": ("routing changes they caused", "≤ 3"),
    "failover_before_commit_failures_of_10": ("failed calls of 10 cut off before their first event", "0"),
    "attempts_per_request_at_100pct_failure": ("attempts per request, every call refused", "≤ 1.2"),
    "fail_fast_all_down_ms": ("call with every provider down fails after (ms)", "< 50"),
    "overload_3x_refused_p_max_ms": ("slowest RESOURCE_EXHAUSTED at 3x capacity (ms)", "< 500"),
    "overload_3x_admitted_s": ("slowest admitted 1 s job at 3x capacity (s)", "< 3"),
    "deadline_1s_caller_sees_ms": ("1 s deadline mid-stream: DEADLINE_EXCEEDED after (ms)", "< 1100"),
    "cancel_before_first_event_stop_ms": (
        "caller cancels before its first event: job stops after (ms)",
        "< 500",
    ),
    "cancel_after_5_events_stop_ms": ("caller cancels after 5 events: job stops after (ms)", "< 500"),
    "caller_killed_stop_ms": ("caller process SIGKILLed: job stops after (ms)", "< 500"),
    "router_sigterm_exit_s": ("router SIGTERM to exit, 1 s grace (s)", "-"),
    "router_sigterm_long_stream_code": (
        "stream longer than the grace ends with",
        "UNAVAILABLE ROUTER_SHUTTING_DOWN",
    ),
    **{
        f"rolling_restart_{source}_{what}": (f"{label}, {source} discovery", bound)
        for source in ("static", "sidecar", "registered", "dns")
        for what, label, bound in (
            ("calls", "calls during a 62 s rolling restart (4 callers)", "> 1000"),
            ("restarts", "... restarts during it", "≥ 6"),
            ("failed_calls", "... failed calls during it", "0"),
        )
    },
    "drain_cut_off_caller_waits_ms": (
        "endpoint left with jobs in flight: callers wait past its drain (ms)",
        "< 1000",
    ),
    "bad_requests_200_ejections": ("replicas ejected by 200 bad requests from one caller", "0"),
    "replica_split_of_40": ("40 concurrent jobs split over 2 replicas", "each ≥ 12"),
    "soak_rss_kib_per_1000_streams": ("router RSS slope over a 10,000-stream soak (KiB per 1,000)", "< 400"),
    "soak_rss_growth_mib": ("router RSS growth after the soak's warm-up (MiB)", "-"),
    "flood_1000_streams_slowest_refusal_ms": (
        "1,000 streams on one connection: slowest refusal (ms)",
        "< 2000",
    ),
    "flood_1000_streams_bystander_job_ms": ("... a job of another caller meanwhile (ms)", "< 1000"),
    "rapid_reset_pairs_sent_of_10000": ("open-then-reset pairs sent on one connection, of 10,000", "-"),
    "rapid_reset_bystander_job_ms": ("... a job of another caller right after (ms)", "< 1000"),
    "rapid_reset_router_growth_mib": ("... router RSS growth (MiB)", "< 32"),
    "ping_flood_pings_sent": ("ping flood: pings sent before GOAWAY ENHANCE_YOUR_CALM", "-"),
    "ping_flood_closed_after_s": ("... connection closed after (s)", "< 5"),
    "bad_request_flood_2000_in_s": ("2,000 bad requests of three kinds over raw HTTP/2 took (s)", "-"),
    "bad_request_flood_2000_log_bytes": ("... log they added, all layers (bytes)", "< 65536"),
    "fuzz_calls": ("fuzzed calls, every RPC of router and provider", "-"),
    "fuzz_calls_per_s": ("... calls per second", "-"),
    "fuzz_unknown_or_internal": ("... ending UNKNOWN or INTERNAL", "0"),
    "fuzz_max_latency_s": ("... slowest call (s)", "≤ 5"),
    "fuzz_router_rss_growth_kib": (
        "... router RSS floor growth, measured passes (KiB)",
        "see Fuzzing",
    ),
    "fuzz_log_bytes_per_1000_calls": ("... log per 1,000 calls (bytes)", "see Fuzzing"),
    "upload_48mib_router_growth_mib": ("router RSS growth, 48 MiB upload and job (MiB)", "< 32"),
    "video_200mb_router_growth_mib": ("router RSS growth, 207 MB video in and out (MiB)", "< 64"),
}


def main() -> int:
    """Prints the table, or says how to produce the figures."""
    if not FIGURES.exists():
        print("no figures yet: run `make reliability`", file=sys.stderr)
        return 1
    figures = json.loads(FIGURES.read_text())
    print("| what | measured | bound |\n|---|---|---|")
    for key, (label, bound) in ROWS.items():
        if key in figures:
            print(f"| {label} | {figures[key]} | {bound} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
