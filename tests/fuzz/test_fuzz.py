"""R24, R28, S3 by fuzzing: mutated and random requests to every RPC of a router and of the synthetic
provider behind it. No call may end UNKNOWN or INTERNAL or outlive its deadline; afterwards both
still serve, a real job still runs, and memory and log have grown within bounds.

`PRIZM_FUZZ_PER_METHOD` sets the calls per RPC (`make fuzz`: 20,000); `PRIZM_FUZZ_SEED` the seed
that reproduces every case.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.fuzz.campaign import Campaign, log_bytes, served_services, start_service
from tests.fuzz.runner import DEADLINE_S, STATUS_LOST, Finding, Tally, fuzz_raw_headers
from tests.fuzz.seeds import PROVIDER_SERVICES, ROUTER_SERVICES, methods
from tests.support.mesh import settled, wait_routable
from tests.support.processes import ServerProcess, own_mesh

# 1,000 calls per RPC take about 50 s here (2 vCPU, 36 RPCs, ~700 calls/s): CI stays near 90 s.
PER_METHOD = int(os.environ.get("PRIZM_FUZZ_PER_METHOD", "1500"))
# Time enough for a machine a few times slower than ours at ~700 calls/s.
pytestmark = [pytest.mark.faults, pytest.mark.fuzz, pytest.mark.timeout(120 + PER_METHOD * 36 // 150)]
SEED = int(os.environ.get("PRIZM_FUZZ_SEED", "24"))
OUT = Path(__file__).resolve().parents[2] / "out"
FINDINGS = OUT / "fuzz_findings.json"
# Memory, compared between the lowest RSS of the second pass and of the last (see Campaign): the
# same 300 calls per RPC replayed ten times moved that floor by ±5 MiB once warm, while its peaks
# (8 and 16 MiB messages, 100,000-element fields in flight) swing by 25 MiB; with fresh cases the
# allocator's fragmentation moved it by up to 26 MiB at CI size. 32 MiB of noise plus 0.25 KiB per
# call: at CI size (~21,000 measured router calls) a leak of 2.5 KiB per call fails it, at
# `make fuzz` size (~280,000) one of 0.4 KiB per call does.
RSS_NOISE_KIB = 32 * 1024
RSS_KIB_PER_1000_CALLS = 256
# Log (R24): 10,000 bad requests a second for a minute may add about 1 MiB, 1.75 KiB per 1,000.
# The rate limit is per interval, not per request: at our lower rate the same budget per minute
# is the honest bound, plus the INFO lines of the calls that succeeded (a job's start and end, an
# upload stored, settings applied: one or two lines each, never rate-limited by design).
LOG_BYTES_PER_MINUTE = 1024 * 1024
LOG_BYTES_PER_SUCCESS = 400
LOGGED_PER_CALL = ("Transform", "UploadAsset", "Configure")  # RPCs whose success is logged
# gRPC's C core answers these header bytes itself, before any Prizm code runs, with INTERNAL and
# this message. Reported as findings; tolerated here because no Prizm code can change them.
CORE_HEADER_REFUSALS = {
    "raw:upper_case_key": "Illegal header key",
    "raw:odd_key": "Illegal header key",
    "raw:empty_key": "Metadata keys cannot be zero length",
    "raw:junk_timeout": "Error parsing 'grpc-timeout' metadata",
    "raw:bad_bin_value": "illegal base64 encoding",
}


provider, router = own_mesh("fuzz")


async def _serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)  # type: ignore[attr-defined]
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


async def _real_job(router: str) -> bytes:
    """A job through the router, retried while the provider (stopped and started by the fuzz many
    times, so maybe held out as flapping) comes back; its output."""
    async with PrizmClient(router) as client:
        for _ in range(60):
            try:
                result = await client.run(
                    "text-to-text", "after the fuzz", options={"events": 2, "output_bytes": 40}, timeout=5
                )
            except PrizmError as error:
                if error.code != grpc.StatusCode.UNAVAILABLE:
                    raise
                await asyncio.sleep(0.5)
                continue
            await settled(client)
            return result.outputs[0].data or b""
    raise AssertionError("no job ran through the router within 30 s of the fuzz")


def _report(findings: list[Finding], slow: list[Finding], *servers: ServerProcess) -> None:
    """Findings with their full requests, and the servers' logs, for reproducing them."""
    OUT.mkdir(exist_ok=True)
    FINDINGS.write_text(
        json.dumps([f.__dict__ for f in findings + slow], indent=1, default=list) + "\n", encoding="utf-8"
    )
    for name, server in zip(("router", "provider"), servers, strict=True):
        (OUT / f"fuzz_{name}.log").write_text(server.log_text() + "\n", encoding="utf-8")


def _succeeded(tallies: list[dict[str, Tally]], *suffixes: str) -> int:
    """Calls that ended OK (or streams read as far as the fuzzer reads) of methods named `*suffix`."""
    return sum(
        t.codes["OK"] + t.codes["READ"]
        for tally in tallies
        for name, t in tally.items()
        if name.endswith(suffixes)
    )


async def test_every_rpc_survives_mutated_requests(
    router: ServerProcess, provider: ServerProcess, figures: dict[str, object], tmp_path: Path
) -> None:
    await wait_routable(router.address, 1)
    path = tmp_path / "fuzz-input.txt"
    path.write_text("an uploaded input for the fuzzer's seeds\n")
    async with PrizmClient(router.address) as client:
        uploaded = (await client.upload(path)).uri
    targets = [
        Campaign("router", router, methods(ROUTER_SERVICES, uploaded)),
        Campaign("provider", provider, methods(PROVIDER_SERVICES, uploaded)),
    ]
    for campaign in targets:  # every service the server lists is fuzzed, and only those
        fuzzed = {m.path.split("/")[1] for m in campaign.methods}
        assert fuzzed == await served_services(campaign.server.address), campaign.target
    pool = [raw for c in targets for m in c.methods for seed in m.seeds for raw in seed]
    logs_before = log_bytes(router) + log_bytes(provider)
    started = time.monotonic()
    for campaign in targets:
        await campaign.run(PER_METHOD, SEED, pool)
    seconds = time.monotonic() - started
    logs = log_bytes(router) + log_bytes(provider) - logs_before

    serving = {c.target: await _serving(c.server.address) for c in targets}
    output = await _real_job(router.address)
    calls = sum(c.calls for c in targets)
    findings = [f for c in targets for f in c.findings()]
    slow = [f for c in targets for f in c.slow()]
    jobs = _succeeded([c.tallies for c in targets], "Transform")
    successes = _succeeded([c.tallies for c in targets], *LOGGED_PER_CALL)
    router_rss = targets[0]
    figures.update(
        {
            "fuzz_per_method": PER_METHOD,
            "fuzz_methods": sum(len(c.methods) for c in targets),
            "fuzz_calls": calls,
            "fuzz_seconds": round(seconds, 1),
            "fuzz_calls_per_s": round(calls / seconds),
            "fuzz_unknown_or_internal": len(findings),
            "fuzz_max_latency_s": round(max(t.max_latency_s for c in targets for t in c.tallies.values()), 2),
            "fuzz_codes": {c.target: c.codes() for c in targets},
            "fuzz_router_rss_growth_kib": router_rss.rss_growth_kib,
            "fuzz_router_rss_kib_per_1000_calls": round(
                router_rss.rss_growth_kib * 1000 / max(router_rss.measured_calls, 1)
            ),
            "fuzz_router_rss_floors_kib": router_rss.floors_kib,
            "fuzz_provider_rss_growth_kib": targets[1].rss_growth_kib,
            "fuzz_log_bytes": logs,
            "fuzz_log_bytes_per_1000_calls": round(logs * 1000 / calls),
            "fuzz_jobs_run": jobs,
            "fuzz_calls_ok_logged": successes,
            "fuzz_status_lost": sum(t.codes[STATUS_LOST] for c in targets for t in c.tallies.values()),
        }
    )
    _report(findings, slow, router, provider)

    problems = [f.describe() for f in findings]
    problems += [f"past the {DEADLINE_S} s deadline: {f.describe()}" for f in slow]
    problems += [f"{target} not SERVING after the fuzz" for target, ok in serving.items() if not ok]
    if output != synthetic_output(b"after the fuzz", 40):
        problems.append(f"a real job after the fuzz gave {output!r}")
    for campaign in targets:
        bound = RSS_NOISE_KIB + RSS_KIB_PER_1000_CALLS * campaign.measured_calls // 1000
        if campaign.rss_growth_kib > bound:
            problems.append(
                f"{campaign.target} RSS grew {campaign.rss_growth_kib} KiB over "
                f"{campaign.measured_calls} calls (bound {bound} KiB)"
            )
    log_bound = LOG_BYTES_PER_MINUTE * max(seconds / 60, 1) + LOG_BYTES_PER_SUCCESS * successes
    if logs > log_bound:
        problems.append(f"{logs} bytes of log for {calls} calls ({successes} logged), bound {log_bound:.0f}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])


async def test_header_bytes_no_client_library_sends(
    router: ServerProcess, provider: ServerProcess, figures: dict[str, object]
) -> None:
    """R28 over a bare HTTP/2 connection: values that are not ASCII or not UTF-8, control bytes,
    illegal keys, a bad `grpc-timeout`, 20 KiB of metadata and 1,000 keys, on every RPC."""
    await wait_routable(router.address, 1)
    outcomes: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    for target, server, services in (
        ("router", router, ROUTER_SERVICES),
        ("provider", provider, PROVIDER_SERVICES),
    ):
        rpcs = methods(services, "prizm-asset://0123456789abcdef0123456789abcdef")
        tallies = await asyncio.gather(*(fuzz_raw_headers(target, server.address, rpc) for rpc in rpcs))
        for method, tally in zip(rpcs, tallies, strict=True):
            for finding in tally.findings:
                expected = CORE_HEADER_REFUSALS.get(finding.metadata_mutation, "\0")
                if finding.code != "INTERNAL" or expected not in finding.details:
                    problems.append(f"{finding.describe()} with {finding.metadata_mutation}")
            for finding in tally.slow:
                problems.append(f"past the deadline: {finding.describe()}")
            outcomes[f"{target} {method.full_name}"] = dict(tally.codes)
        await start_service(server.address)  # the StopService seed was sent too
        if not await _serving(server.address):
            problems.append(f"{target} not SERVING after the header calls")
    figures["fuzz_raw_header_outcomes"] = outcomes
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])
