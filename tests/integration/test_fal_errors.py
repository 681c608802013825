"""The fal provider's failures through a real router: each error class, cancel, a refused key."""

from __future__ import annotations

import secrets

import grpc
import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.errors import PrizmError, Reason
from provider_servers.contract.polling import wait_until
from provider_servers.fal.fake import FakeFal, Script
from tests.integration.fal_mesh import KEY, fal_mesh
from tests.support.control import configure, status
from tests.support.processes import start_provider

fake, fresh_script, provider, router, client = fal_mesh()


@pytest.mark.parametrize(
    ("script", "code", "reason"),
    [
        (
            Script(submit_status=429, submit_headers={"Retry-After": "7"}),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.UPSTREAM_RATE_LIMITED,
        ),
        (
            Script(submit_status=503, submit_body={"detail": "no runners"}),
            grpc.StatusCode.UNAVAILABLE,
            Reason.UPSTREAM_UNAVAILABLE,
        ),
        (
            Script(
                submit_status=422,
                submit_body={
                    "detail": [
                        {"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}
                    ]
                },
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.CONTENT_FILTERED,
        ),
        (
            Script(submit_status=400, submit_body={"detail": "image_size too large"}),
            grpc.StatusCode.INVALID_ARGUMENT,
            Reason.UPSTREAM_REJECTED,
        ),
    ],
)
async def test_refusals_before_acceptance_are_mapped(
    client: PrizmClient, fake: FakeFal, script: Script, code: grpc.StatusCode, reason: Reason
) -> None:
    fake.script = script
    before = len(fake.requests("POST", "/fal-ai/flux/schnell"))
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model="fal-ai/flux/schnell", timeout=30)
    assert (failure.value.code, failure.value.reason) == (code, reason)
    assert len(fake.requests("POST", "/fal-ai/flux/schnell")) == before + 1  # a paid call is never resent
    if reason == Reason.UPSTREAM_RATE_LIMITED:
        assert failure.value.retry_after_s == pytest.approx(7)


async def test_a_rejected_key_is_upstream_auth_failed(client: PrizmClient, fake: FakeFal) -> None:
    fake.key = "another-key"
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model="fal-ai/flux/schnell", timeout=30)
    assert failure.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.value.reason == Reason.UPSTREAM_AUTH_FAILED
    assert KEY not in failure.value.message


async def test_a_request_failing_after_acceptance_is_job_failed_and_scrubbed(
    client: PrizmClient, fake: FakeFal
) -> None:
    fake.script = Script(fail_after_accept=f"CUDA out of memory (key {KEY})")
    before = len(fake.requests("POST", "/fal-ai/flux/schnell"))
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model="fal-ai/flux/schnell", timeout=30)
    assert (failure.value.code, failure.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert "CUDA out of memory" in failure.value.message
    assert KEY not in failure.value.message
    assert len(fake.requests("POST", "/fal-ai/flux/schnell")) == before + 1  # sent once, never rerun


async def test_cancel_reaches_fal(client: PrizmClient, fake: FakeFal) -> None:
    fake.script = Script(queue_positions=(), logs=("Sampling: 10%",), hold=True)
    async for event in client.stream("text-to-image", "a kite", model="fal-ai/flux/schnell", timeout=30):
        if isinstance(event, Progress) and event.logs:
            break

    async def cancelled() -> bool:
        return any(c.method == "PUT" and c.path.endswith("/cancel") for c in fake.calls)

    await wait_until(cancelled, 10, interval=0.05)
    cancel = [c for c in fake.calls if c.method == "PUT" and c.path.endswith("/cancel")][-1]
    assert cancel.path.startswith("/fal-ai/flux/requests/req-")
    assert cancel.headers["Authorization"] == f"Key {KEY}"


async def test_a_key_fal_refuses_makes_the_provider_not_serving(fake: FakeFal) -> None:
    wrong = f"sk-CANARY-{secrets.token_hex(8)}"
    env = {
        "FAL_KEY": wrong,
        "FAL_BASE_URL": fake.url,
        "FAL_REST_URL": fake.url,
        "FAL_API_URL": f"{fake.url}/v1",
    }
    server = start_provider("fal", env=env)
    try:

        async def refused() -> bool:
            return "UPSTREAM_AUTH_FAILED" in (await status(server.address)).detail

        await wait_until(refused, 20, interval=0.1)
        detail = (await status(server.address)).detail
        assert wrong not in detail
        probes = [
            c
            for c in fake.calls
            if c.path == "/v1/models" and c.headers.get("Authorization") == f"Key {wrong}"
        ]
        assert probes and all(c.method == "GET" for c in probes)  # the free model list, never a paid call
        assert not [
            c for c in fake.calls if c.method == "POST" and c.headers.get("Authorization") == f"Key {wrong}"
        ]
        await configure(server.address, api_key=KEY)  # the right key, at run time
    finally:
        logs = server.log_text()
        server.stop()
    assert wrong not in logs and KEY not in logs


async def test_a_submission_answered_without_a_request_id_is_not_rerun(
    client: PrizmClient, fake: FakeFal
) -> None:
    fake.script = Script(submit_status=200, submit_body={"status": "IN_QUEUE"})
    before = len(fake.requests("POST", "/fal-ai/flux/schnell"))
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model="fal-ai/flux/schnell", timeout=30)
    # It may have been queued, and billed: a job failure, never a failover.
    assert (failure.value.code, failure.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert "request_id" in failure.value.message
    assert len(fake.requests("POST", "/fal-ai/flux/schnell")) == before + 1
