"""Prometheus metrics of a real router and providers after a mixed run: exactly those counts."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.errors import PrizmError
from tests.support.control import configure
from tests.support.mesh import wait_routable
from tests.support.metrics import Samples, free_port, scrape, value
from tests.support.processes import ServerProcess, start_provider, start_router

pytestmark = pytest.mark.faults

SLOW = {"events": 40, "interval_ms": 50}
CALLER = "caller-name-not-a-label"
TEXT = "input-text-not-a-label"
# What each label may say: names from the server's descriptors, enums and the registry.
ALLOWED: dict[str, set[str]] = {
    "grpc_type": {"unary", "server_stream", "client_stream", "bidi_stream"},
    "capability": {"text_to_text"},
    "provider": {"synthetic", "none", "other"},
    "model": {"synthetic-v1", "none", "other"},
    "direction": {"to_provider", "to_caller"},
    "currency": {"USD"},
}


async def settled(port: int, done: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrapes until `done` holds (a handler records its status as it ends, just after the caller
    heard it), else returns the last scrape for the assertion to show."""
    deadline = time.monotonic() + timeout
    samples = scrape(port)
    while not done(samples) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        samples = scrape(port)
    return samples


def _listening_on_loopback_only(port: int) -> bool:
    """Whether /proc/net/tcp shows `port` listening, on 127.0.0.1 only."""
    bound = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            bound.append(address)
    return bound == ["0100007F"]


async def _mixed_run(router: str, first: ServerProcess, second: ServerProcess) -> list[str]:
    """3 successes, a bad input, a failover, a cancel after the first event, a crash mid-job.
    Returns the job ids the caller saw."""
    job_ids: list[str] = []
    async with PrizmClient(router, max_attempts=1, caller=CALLER) as client:
        for _ in range(3):
            done = await client.run("text-to-text", TEXT, options={"events": 2}, timeout=20)
            job_ids.append(done.job_id)
        with pytest.raises(PrizmError) as bad:
            await client.run("text-to-text", TEXT, options={"events": -1}, timeout=20)
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        await configure(first.address, refuse="UNAVAILABLE")
        await configure(second.address, price_per_request="0.25")
        job_ids.append((await client.run("text-to-text", TEXT, options={"events": 2}, timeout=20)).job_id)
        await configure(first.address, refuse="")
        async for event in client.stream("text-to-text", TEXT, options=SLOW, timeout=20):
            job_ids.append(event.job_id)
            break  # the caller leaves after the first event: the router's call is cancelled
        with pytest.raises(PrizmError) as crash:
            async for event in client.stream("text-to-text", TEXT, options=SLOW, timeout=20):
                job_ids.append(event.job_id)
                if isinstance(event, Progress) and event.message.startswith("event 3/"):
                    first.signal(signal.SIGKILL)
        assert crash.value.reason == "PROVIDER_CRASHED"
    return job_ids


async def test_after_a_mixed_run_the_metrics_show_exactly_those_counts(tmp_path: Path) -> None:
    first_port, second_port, router_port = free_port(), free_port(), free_port()
    first = start_provider("synthetic", "--metrics-port", str(first_port))
    second = start_provider("synthetic", "--metrics-port", str(second_port))
    config = tmp_path / "router.yaml"
    config.write_text(
        f"providers:\n  - {{address: '{first.address}', priority: 10}}\n  - {{address: '{second.address}'}}\n"
        f"metrics: {{port: {router_port}}}\n"
    )
    router = start_router(config)
    try:
        await wait_routable(router.address, 2)
        assert _listening_on_loopback_only(router_port) and _listening_on_loopback_only(second_port)
        job_ids = await _mixed_run(router.address, first, second)
        transform = {"grpc_service": "prizm.v1.RouterService", "grpc_method": "Transform"}

        def handled(samples: Samples) -> float:
            return value(samples, "grpc_server_handled_total", **transform)

        def ended(samples: Samples) -> bool:  # every call ended, and the crash seen by health too
            return handled(samples) == 7 and value(samples, "prizm_endpoints", state="serving") == 1

        samples = await settled(router_port, ended)
        _check_router(samples, transform)
        _check_labels(samples, job_ids)
        provider = scrape(second_port)
        _check_provider(provider)
        _check_labels(provider, job_ids)
    finally:
        for server in (router, first, second):
            server.stop()


def _check_router(samples: Samples, transform: dict[str, str]) -> None:
    server = "grpc_server_handled_total"
    by_code = {
        code: value(samples, server, grpc_code=code, **transform)
        for code in ("OK", "InvalidArgument", "Canceled", "Unavailable")
    }
    assert by_code == {"OK": 4, "InvalidArgument": 1, "Canceled": 1, "Unavailable": 1}
    assert value(samples, "grpc_server_started_total", grpc_type="server_stream", **transform) == 7
    jobs = "prizm_jobs_total"
    ran = {"capability": "text_to_text", "provider": "synthetic", "model": "synthetic-v1"}
    assert value(samples, jobs, outcome="OK", **ran) == 4
    assert value(samples, jobs, outcome="Canceled", **ran) == 1
    assert value(samples, jobs, outcome="Unavailable", **ran) == 1
    # Refused by every model's option schema: it never reached a provider.
    assert value(samples, jobs, outcome="InvalidArgument", provider="none", model="none") == 1
    assert value(samples, jobs) == 7
    assert value(samples, "prizm_failovers_total", capability="text_to_text") == 1
    assert value(samples, "prizm_job_duration_seconds_count") == 7
    assert value(samples, "prizm_job_time_to_first_event_seconds_count") == 6
    assert value(samples, "prizm_job_queue_wait_seconds_count") == 6
    assert value(samples, "prizm_cost_total", provider="synthetic", currency="USD") == 0.25
    assert value(samples, "prizm_relayed_bytes_total", direction="to_caller") > 0
    client = "grpc_client_handled_total"
    calls = {"grpc_service": "prizm.v1.ModelService", "grpc_method": "Transform"}
    # One refusal before the failover, one crash: both Unavailable; 7 calls for 6 jobs that ran.
    assert value(samples, client, grpc_code="OK", **calls) == 4
    assert value(samples, client, grpc_code="Unavailable", **calls) == 2
    assert value(samples, client, grpc_code="Canceled", **calls) == 1
    assert value(samples, "prizm_endpoints", state="serving") == 1
    assert value(samples, "prizm_admission_rejections_total") == 0


def _check_provider(samples: Samples) -> None:
    """The second provider ran the one job that failed over to it."""
    transform = {"grpc_service": "prizm.v1.ModelService", "grpc_method": "Transform"}
    assert value(samples, "grpc_server_handled_total", grpc_code="OK", **transform) == 1
    assert value(samples, "grpc_server_handled_total", **transform) == 1
    assert value(samples, "grpc_server_msg_received_total", **transform) == 1
    assert value(samples, "grpc_server_msg_sent_total", **transform) > 2
    jobs = {"capability": "text_to_text", "model": "synthetic-v1", "outcome": "OK"}
    assert value(samples, "prizm_provider_jobs_total", **jobs) == 1
    assert value(samples, "process_resident_memory_bytes") > 0


def _check_labels(samples: Samples, job_ids: list[str]) -> None:
    """Every label value is bounded: no job id, caller name or input text, only known names."""
    assert len(set(job_ids)) == 6
    for _name, labels in samples:
        for label, found in labels:
            assert not any(job_id in found for job_id in job_ids), (label, found)
            assert CALLER not in found and TEXT not in found, (label, found)
            if label in ALLOWED:
                assert found in ALLOWED[label], (label, found)
            if label == "grpc_service":
                assert found.startswith(("prizm.v1.", "grpc.")), found


async def test_the_router_flag_turns_metrics_on_and_a_config_error_names_the_key(tmp_path: Path) -> None:
    port = free_port()
    router = start_router(None, "--metrics-port", str(port))
    try:
        assert _listening_on_loopback_only(port)
        samples = scrape(port)
        assert value(samples, "prizm_endpoints", state="serving") == 0
        assert value(samples, "prizm_jobs_total") == 0
    finally:
        router.stop()
    config = tmp_path / "router.yaml"
    config.write_text("metrics: {port: nine}\n")
    with pytest.raises(RuntimeError, match=r"router\.yaml: metrics\.port: Input should be a valid integer"):
        start_router(config)


async def test_a_mesh_refusing_everything_shows_failovers_budget_refusals_and_an_ejection(
    tmp_path: Path,
) -> None:
    port = free_port()
    providers = [start_provider("synthetic"), start_provider("synthetic")]
    config = tmp_path / "router.yaml"
    # Priorities make the order of attempts fixed: the first replica, then the second.
    listed = "".join(f"  - {{address: '{p.address}', priority: {10 - i}}}\n" for i, p in enumerate(providers))
    config.write_text(f"providers:\n{listed}metrics: {{port: {port}}}\n")
    router = start_router(config)
    try:
        await wait_routable(router.address, 2)
        for provider in providers:
            await configure(provider.address, refuse="UNAVAILABLE")
        jobs = 20
        async with PrizmClient(router.address, max_attempts=1) as client:
            for _ in range(jobs):
                with pytest.raises(PrizmError) as refused:
                    await client.run("text-to-text", TEXT, options={"events": 1}, timeout=10)
                assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        samples = scrape(port)
    finally:
        for server in (router, *providers):
            server.stop()
    # The retry budget (10 tokens, retries while more than 5 are left) pays for the second attempt
    # of the first two jobs. The next jobs get one attempt and a refused retry, until the first
    # replica's fifth failure (health.outlier_failures) ejects it: from then on there is no other
    # provider to try, so nothing is refused (jobs 3, 4 and 5 are).
    assert value(samples, "prizm_failovers_total", capability="text_to_text") == 2
    assert value(samples, "prizm_retry_budget_refusals_total") == 3
    assert value(samples, "prizm_jobs_total", provider="synthetic", outcome="Unavailable") == jobs
    # One replica is ejected for its failures; the other is kept, as the last of its capability.
    assert value(samples, "prizm_endpoint_ejections_total", provider="synthetic") == 1
    assert value(samples, "prizm_endpoints", state="ejected") == 1
    assert (
        value(samples, "grpc_client_handled_total", grpc_method="Transform", grpc_code="Unavailable")
        == jobs + 2
    )
