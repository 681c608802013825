"""When the stream speaks: not before the provider's first event, and output as it comes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from prizm_core.errors import PrizmError, Reason
from provider_servers.sdk import Capability, Event, InputAsset, Job, MediaKind, MediaUnit, ModelSpec, Output
from provider_servers.sdk.stream import job_events

MODEL = ModelSpec(id="m", display_name="M", description="A model.", capabilities=(Capability.TEXT_TO_AUDIO,))
JOB = Job(
    id="job-7",
    capability=Capability.TEXT_TO_AUDIO,
    model=MODEL,
    inputs=(InputAsset.inline(MediaKind.TEXT, "text/plain", b"hi"),),
    options={},
)


class _Runner:
    """A provider whose output comes in two pieces `pause_s` apart, or that fails at once."""

    id = "runner"

    def __init__(self, pause_s: float = 0.0, fail: bool = False) -> None:
        self.pause_s = pause_s
        self.fail = fail
        self.second_piece_made = asyncio.Event()

    def measure(self, job: Job) -> dict[MediaUnit, float]:
        return {MediaUnit.REQUEST: 1.0}

    async def _pieces(self) -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.sleep(self.pause_s)
        self.second_piece_made.set()
        yield b"second"

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        if self.fail:
            raise PrizmError(grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE, "the vendor is down")
        yield Output(kind=MediaKind.AUDIO, mime_type="audio/mpeg", data=self._pieces())


async def test_a_provider_failing_before_its_first_event_sends_nothing_at_all() -> None:
    events = job_events(_Runner(fail=True), JOB)
    # Not even the start: the caller has heard nothing, so the router may run the job elsewhere.
    with pytest.raises(PrizmError) as failure:
        await anext(events)
    assert failure.value.reason == Reason.UPSTREAM_UNAVAILABLE


async def test_a_slow_output_goes_out_as_it_comes_a_fast_one_in_full_chunks() -> None:
    slow = _Runner(pause_s=1.0)
    async for event in job_events(slow, JOB, chunk_bytes=1024):
        if event.HasField("output_chunk"):
            assert event.output_chunk.data == b"first"
            assert not slow.second_piece_made.is_set()
            break
    fast = [e.output_chunk.data async for e in job_events(_Runner(), JOB, 1024) if e.HasField("output_chunk")]
    assert fast == [b"firstsecond"]
