"""The Replicate provider through a real router, against `ReplicateFake`: refusals, failures, cancels."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.errors import PrizmError, Reason
from provider_servers.contract.polling import wait_until
from provider_servers.replicate.fake import ReplicateFake
from tests.support.replicate import LLAMA, PRO, SCHNELL, TOKEN, last_id


async def test_an_unlisted_model_with_an_option_no_schema_takes_is_refused_before_any_call(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    before = len(fake.calls)
    options: dict[str, Any] = {"sizes": [1, 2]}  # a list: no option holds one, declared or not
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a wren", model="black-forest-labs/flux-dev", options=options)
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "options.sizes" in [name for name, _ in failure.value.field_violations]
    assert not [c for c in fake.calls[before:] if c.method == "POST"]


async def test_a_model_id_that_is_no_replicate_reference_is_refused_before_any_call(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    before = len(fake.calls)
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a wren", model="no-such-model", timeout=30)
    assert failure.value.code == grpc.StatusCode.NOT_FOUND
    assert failure.value.reason == Reason.MODEL_NOT_FOUND
    assert not [c for c in fake.calls[before:] if c.method == "POST"]


async def test_a_stream_that_fails_is_job_failed_and_scrubbed(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    fake.polls = 1
    fake.fail_with = f"out of memory at {TOKEN}"
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-text", "tell me a story", model=LLAMA, timeout=30)
    assert (failure.value.code, failure.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert "out of memory" in failure.value.message
    assert TOKEN not in failure.value.message


async def test_cancel_mid_stream_reaches_replicate(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.polls, fake.piece_delay_s = 1, 0.3
    async for event in client.stream("text-to-text", "tell me a story", model=LLAMA, timeout=30):
        if isinstance(event, Progress) and event.stage == "generate":
            assert event.fraction == pytest.approx(1 / 512)  # a piece of the 512-token budget
            break
    prediction = fake.predictions[last_id(fake)]

    async def cancelled() -> bool:
        return bool(fake.requests("POST", f"/v1/predictions/{prediction['id']}/cancel"))

    await wait_until(cancelled, 10, interval=0.05)
    assert prediction["status"] == "canceled"


async def test_a_size_off_the_grid_is_refused_before_any_call(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    before = len(fake.calls)
    with pytest.raises(PrizmError) as failure:
        await client.run(
            "text-to-image", "a harbour", model=PRO, options={"width": 500, "height": 320}, timeout=30
        )
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert ("options.width", "must be a multiple of 32") in failure.value.field_violations
    assert not [c for c in fake.calls[before:] if c.method == "POST"]


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (
            (429, "throttled", {"Retry-After": "7"}),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.UPSTREAM_RATE_LIMITED,
        ),
        ((503, "no capacity", {}), grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        ((422, "prompt is too long", {}), grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED),
    ],
)
async def test_refusals_before_acceptance_are_mapped(
    client: PrizmClient,
    fake: ReplicateFake,
    error: tuple[int, str, dict[str, str]],
    code: grpc.StatusCode,
    reason: Reason,
) -> None:
    fake.create_error = error
    before = len(fake.requests("POST", f"/v1/models/{SCHNELL}/predictions"))
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model=SCHNELL, timeout=30)
    assert (failure.value.code, failure.value.reason) == (code, reason)
    assert error[1] in failure.value.message
    if reason == Reason.UPSTREAM_RATE_LIMITED:
        assert failure.value.retry_after_s == pytest.approx(7)
    assert len(fake.requests("POST", f"/v1/models/{SCHNELL}/predictions")) == before + 1  # never resent


async def test_a_rejected_token_is_upstream_auth_failed(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.token = "r8_another"
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model=SCHNELL, timeout=30)
    assert (failure.value.code, failure.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        Reason.UPSTREAM_AUTH_FAILED,
    )
    assert TOKEN not in failure.value.message


async def test_a_failed_prediction_is_job_failed_and_scrubbed(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    fake.polls = 2
    fake.fail_with = f"CUDA out of memory, {TOKEN} ran it"
    before = len(fake.requests("POST", f"/v1/models/{SCHNELL}/predictions"))
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model=SCHNELL, timeout=30)
    assert (failure.value.code, failure.value.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert "CUDA out of memory" in failure.value.message
    assert TOKEN not in failure.value.message
    assert len(fake.requests("POST", f"/v1/models/{SCHNELL}/predictions")) == before + 1  # not rerun


async def test_an_nsfw_refusal_is_content_filtered(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.fail_with = "NSFW content detected. Try running it again, or try a different prompt."
    with pytest.raises(PrizmError) as failure:
        await client.run("text-to-image", "a kite", model=SCHNELL, timeout=30)
    assert (failure.value.code, failure.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        Reason.CONTENT_FILTERED,
    )


async def test_cancel_reaches_replicate(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.polls = 1000
    async for event in client.stream("text-to-image", "a kite", model=SCHNELL, timeout=30):
        if isinstance(event, Progress) and event.fraction:
            break
    prediction = fake.predictions[last_id(fake)]

    async def cancelled() -> bool:
        return bool(fake.requests("POST", f"/v1/predictions/{prediction['id']}/cancel"))

    await wait_until(cancelled, 10, interval=0.05)
    cancel = fake.requests("POST", f"/v1/predictions/{prediction['id']}/cancel")[-1]
    assert cancel.headers["Authorization"] == f"Bearer {TOKEN}"
    assert prediction["status"] == "canceled"
