"""ElevenLabs through a real router: speech as the vendor made it, streamed as it comes, cancel
reaching the vendor, and each of its failures mapped to Prizm's errors."""

from __future__ import annotations

import hashlib
import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Completion, OutputChunk
from prizm_core.enums import MediaUnit
from prizm_core.errors import PrizmError
from provider_servers.contract.polling import wait_until
from provider_servers.elevenlabs.fake import ElevenLabsFake, Script, fake_speech
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess
from tests.support.remote import canary_key, prioritized_router, remote_provider

TEXT = "Prizm relays what ElevenLabs says while it is still saying it."
TTS = "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream"  # George's stream


@pytest.fixture(scope="module")
def fake() -> Iterator[ElevenLabsFake]:
    """The vendor, with a canary key."""
    with ElevenLabsFake(canary_key()) as server:
        yield server


@pytest.fixture(scope="module")
def provider(fake: ElevenLabsFake) -> Iterator[ServerProcess]:
    """The ElevenLabs provider, pointed at the fake."""
    with remote_provider(
        "elevenlabs", "ELEVENLABS_API_KEY", fake.api_key, ELEVENLABS_BASE_URL=fake.url
    ) as server:
        yield server


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, provider: ServerProcess) -> Iterator[ServerProcess]:
    """A router in front of the provider."""
    with prioritized_router(tmp_path_factory.mktemp("elevenlabs"), (provider.address, 0)) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(fake: ElevenLabsFake) -> None:
    """Each test starts with the fake answering normally and its calls forgotten."""
    fake.script = Script()
    fake.calls.clear()


async def test_speech_is_what_the_vendor_said_with_the_options_mapped(
    router: ServerProcess, fake: ElevenLabsFake
) -> None:
    await wait_routable(router.address, 1)
    options = {"voice": "George", "speed": 1.1, "language": "de", "seed": 42}
    async with PrizmClient(router.address) as client:
        result = await client.run("text-to-audio", TEXT, model="eleven_turbo_v2_5", options=options)
    assert result.outputs[0].data == fake_speech(TEXT, "mp3_44100_128", 1.1)
    assert result.outputs[0].mime_type == "audio/mpeg"
    [call] = fake.requests("POST", TTS)
    assert call.headers["xi-api-key"] == fake.api_key and call.query == {"output_format": "mp3_44100_128"}
    assert call.json == {
        "text": TEXT,
        "model_id": "eleven_turbo_v2_5",
        "voice_settings": {"speed": 1.1},
        "language_code": "de",
        "seed": 42,
    }
    usage = {amount.unit: amount.quantity for amount in result.completion.usage}
    assert usage == {MediaUnit.INPUT_CHARACTER: len(TEXT)}
    assert result.cost.amount == pytest.approx(len(TEXT) * 0.05 / 1000)


async def test_wav_comes_from_the_plain_endpoint_at_the_asked_rate(
    router: ServerProcess, fake: ElevenLabsFake
) -> None:
    async with PrizmClient(router.address) as client:
        result = await client.run("text-to-audio", TEXT, options={"format": "wav", "sample_rate": 16000})
    with wave.open(io.BytesIO(result.outputs[0].data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (16000, 1)
        assert wav.getnframes() / 16000 == pytest.approx(len(TEXT) * 0.065, abs=0.01)
    assert [
        c.query
        for c in fake.requests(
            "POST", TTS.removesuffix("/stream").replace("JBFqnCBsd6RMkjVDRZzb", "21m00Tcm4TlvDq8ikWAM")
        )
    ] == [{"output_format": "wav_16000"}]


async def test_audio_reaches_the_caller_before_the_vendor_has_finished(
    router: ServerProcess, fake: ElevenLabsFake
) -> None:
    fake.script = Script(pieces=4, pause_s=0.6)
    first_chunk_at = 0.0
    async with PrizmClient(router.address) as client:
        async for event in client.stream("text-to-audio", TEXT, options={"voice": "George"}):
            if isinstance(event, OutputChunk) and not first_chunk_at:
                first_chunk_at = time.monotonic()
            done = isinstance(event, Completion)
    assert done and fake.last_piece_at is not None
    # Three pauses of 0.6 s lie between the first piece and the last: the first must not wait for them.
    assert fake.last_piece_at - first_chunk_at > 1.0


async def test_cancel_closes_the_vendor_stream(
    router: ServerProcess, provider: ServerProcess, fake: ElevenLabsFake
) -> None:
    fake.script = Script(pieces=20, pause_s=0.5)
    async with PrizmClient(router.address) as client:
        async for event in client.stream("text-to-audio", TEXT, options={"voice": "George"}):
            if isinstance(event, OutputChunk):
                break  # leaving the stream cancels the job

    async def hung_up() -> bool:
        return fake.hangups == 1 and (await status(provider.address)).active_jobs == 0

    await wait_until(hung_up, timeout=5)
    assert len(fake.requests("POST", TTS)) == 1


FAILURES = {
    "auth": (
        Script(status=401, error="invalid_api_key"),
        ("FAILED_PRECONDITION", "UPSTREAM_AUTH_FAILED", None),
    ),
    "rate": (
        Script(status=429, error="too_many_concurrent_requests", retry_after="7"),
        ("RESOURCE_EXHAUSTED", "UPSTREAM_RATE_LIMITED", 7.0),
    ),
    "rejected": (
        Script(status=400, error="invalid_request"),
        ("INVALID_ARGUMENT", "UPSTREAM_REJECTED", None),
    ),
    "down": (Script(status=503, error="system_busy"), ("UNAVAILABLE", "UPSTREAM_UNAVAILABLE", 1.0)),
    "cut": (Script(pieces=4, cut_after=1), ("ABORTED", "UPSTREAM_JOB_FAILED", None)),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_vendor_failures_become_prizm_errors(
    router: ServerProcess, fake: ElevenLabsFake, case: str
) -> None:
    fake.script, expected = FAILURES[case]
    async with PrizmClient(router.address, max_attempts=1) as client:
        with pytest.raises(PrizmError) as failure:
            await client.run("text-to-audio", TEXT, options={"voice": "George"})
    error = failure.value
    assert (error.code.name, error.reason, error.retry_after_s) == expected
    assert "elevenlabs" in error.message and fake.api_key not in error.message
    assert len(fake.requests("POST", TTS)) == 1  # a paid call is never sent twice


async def test_options_elevenlabs_would_refuse_are_refused_before_any_call(
    router: ServerProcess, fake: ElevenLabsFake
) -> None:
    async with PrizmClient(router.address, max_attempts=1) as client:
        for options in ({"format": "mp3", "sample_rate": 16000}, {"voice": "Nobody"}, {"speed": 2.0}):
            with pytest.raises(PrizmError) as failure:
                await client.run("text-to-audio", TEXT, model="eleven_flash_v2_5", options=options)
            assert failure.value.code.name == "INVALID_ARGUMENT", options
    assert [c for c in fake.calls if c.method == "POST"] == []


def _vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


async def test_50_mb_of_audio_is_relayed_with_flat_memory(
    router: ServerProcess, provider: ServerProcess, fake: ElevenLabsFake
) -> None:
    fifty_mb = 50 * 1024 * 1024
    fake.script = Script(audio_bytes=fifty_mb, pieces=400)
    before = {pid: _vm_kib(pid, "VmRSS") for pid in (router.pid, provider.pid)}
    digest, size, chunks = hashlib.sha256(), 0, 0
    async with PrizmClient(router.address) as client:
        async for event in client.stream("text-to-audio", TEXT, options={"voice": "George"}, timeout=120):
            if isinstance(event, OutputChunk):
                digest.update(event.data)
                size, chunks = size + len(event.data), chunks + 1
    assert size == fifty_mb and chunks >= 100
    assert digest.hexdigest() == hashlib.sha256(fake_speech(TEXT, "mp3_44100_128", size=fifty_mb)).hexdigest()
    for pid in (router.pid, provider.pid):
        grown_mib = (_vm_kib(pid, "VmHWM") - before[pid]) / 1024
        assert grown_mib < 40, f"{pid} grew {grown_mib:.0f} MiB relaying 50 MiB"
