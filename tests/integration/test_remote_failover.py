"""Failover between remote and local providers: a vendor that refuses before it takes the job hands
it on; a vendor that took the job and then failed is never run again elsewhere."""

from __future__ import annotations

import contextlib
import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.elevenlabs.fake import ElevenLabsFake, Script, fake_speech
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess
from tests.support.remote import canary_key, prioritized_router, remote_provider

pytestmark = pytest.mark.faults

TEXT = "The first vendor is down, so another one speaks."
TTS = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream"  # the first voice's stream


@pytest.fixture
def down() -> Iterator[ElevenLabsFake]:
    """A vendor whose voice list answers (so its provider serves) but whose speech fails."""
    with ElevenLabsFake(canary_key()) as fake:
        yield fake


def _elevenlabs(fake: ElevenLabsFake) -> contextlib.AbstractContextManager[ServerProcess]:
    return remote_provider("elevenlabs", "ELEVENLABS_API_KEY", fake.api_key, ELEVENLABS_BASE_URL=fake.url)


async def test_a_vendor_down_before_taking_the_job_hands_it_to_piper(
    tmp_path: Path, down: ElevenLabsFake, piper: ServerProcess
) -> None:
    down.script = Script(status=503, error="system_busy")
    piper_jobs = (await status(piper.address)).finished_jobs
    with (
        _elevenlabs(down) as remote,
        prioritized_router(tmp_path, (remote.address, 10), (piper.address, 0)) as router,
    ):
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address, max_attempts=1) as client:
            result = await client.run("text-to-audio", TEXT, timeout=60)
    assert result.outputs[0].provenance.provider_id == "piper"
    with wave.open(io.BytesIO(result.outputs[0].data), "rb") as speech:
        assert speech.getnframes() / speech.getframerate() > 1.0
    assert len(down.requests("POST", TTS)) == 1
    assert (await status(piper.address)).finished_jobs == piper_jobs + 1


async def test_a_vendor_down_hands_the_job_to_another_remote_provider(
    tmp_path: Path, down: ElevenLabsFake
) -> None:
    down.script = Script(status=502)
    with (
        ElevenLabsFake(canary_key()) as up,
        _elevenlabs(down) as first,
        _elevenlabs(up) as second,
        prioritized_router(tmp_path, (first.address, 10), (second.address, 0)) as router,
    ):
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address, max_attempts=1) as client:
            result = await client.run("text-to-audio", TEXT, timeout=60)
        assert result.outputs[0].data == fake_speech(TEXT, "mp3_44100_128")
        assert (len(down.requests("POST", TTS)), len(up.requests("POST", TTS))) == (1, 1)


@pytest.mark.parametrize("pieces_sent", [0, 2], ids=["before-any-audio", "mid-audio"])
async def test_a_job_the_vendor_took_and_then_failed_is_not_run_again(
    tmp_path: Path, down: ElevenLabsFake, pieces_sent: int
) -> None:
    down.script = Script(pieces=5, cut_after=pieces_sent)
    with (
        ElevenLabsFake(canary_key()) as up,
        _elevenlabs(down) as first,
        _elevenlabs(up) as second,
        prioritized_router(tmp_path, (first.address, 10), (second.address, 0)) as router,
    ):
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address, max_attempts=1) as client:
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-audio", TEXT, timeout=60)
        assert (failure.value.code.name, failure.value.reason) == ("ABORTED", "UPSTREAM_JOB_FAILED")
        assert (len(down.requests("POST", TTS)), up.requests("POST", TTS)) == (1, [])
        assert (await status(second.address)).finished_jobs == 0
