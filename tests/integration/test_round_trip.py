"""Speech through the mesh and back: piper to a WAV, pocketsphinx to words, with live progress."""

from __future__ import annotations

import io
import wave
from pathlib import Path

from prizm.v1 import media_pb2 as media_pb

from prizm_core.assets import file_asset
from prizm_core.client import PrizmClient
from prizm_core.client.events import Completion, OutputChunk, OutputHeader, Progress
from tests.support.mesh import recognised_words, wait_routable
from tests.support.processes import ServerProcess

SENTENCE = "the quick brown fox jumps over the lazy dog"


def wav_seconds(data: bytes) -> float:
    """Duration of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def test_speech_round_trip_through_the_router(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        speech = await client.run("text-to-audio", SENTENCE, timeout=60)
        (audio,) = speech.outputs
        assert audio.mime_type == "audio/wav"
        assert audio.data is not None
        assert wav_seconds(audio.data) >= 1.0
        assert audio.provenance.provider_id == "piper"
        assert audio.provenance.job_id == speech.job_id

        asset = media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type="audio/wav", data=audio.data)
        text = await client.run("audio-to-text", asset, timeout=60)
        (transcript,) = text.outputs
        assert transcript.provenance.provider_id == "pocketsphinx"
        assert transcript.provenance.input_sha256 == (audio.sha256,)
        assert recognised_words(SENTENCE, transcript.text()) >= 6, transcript.text()


async def test_progress_arrives_before_the_output_with_rising_fractions(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    fractions: list[float] = []
    async with PrizmClient(mesh.address) as client:
        async for event in client.stream("text-to-audio", f"{SENTENCE}. {SENTENCE}. {SENTENCE}.", timeout=60):
            if isinstance(event, Progress) and event.fraction is not None:
                fractions.append(event.fraction)
            elif isinstance(event, OutputHeader):
                break
    assert len(fractions) >= 2, fractions
    assert fractions == sorted(fractions)
    assert fractions[-1] > fractions[0]


async def test_events_are_numbered_without_gaps_and_tagged_with_the_job(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        events = [e async for e in client.stream("text-to-audio", SENTENCE, timeout=60)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert len({e.job_id for e in events}) == 1
    completion = events[-1]
    assert isinstance(completion, Completion)
    chunks = b"".join(e.data for e in events if isinstance(e, OutputChunk))
    summary = completion.outputs[0]
    assert summary.size_bytes == len(chunks)
    assert wav_seconds(chunks) >= 1.0


async def test_a_wav_file_on_disk_goes_in_by_path(mesh: ServerProcess, tmp_path: Path) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        speech = await client.run("text-to-audio", SENTENCE, timeout=60)
        assert speech.outputs[0].data is not None
        path = tmp_path / "speech.wav"
        path.write_bytes(speech.outputs[0].data)
        text = await client.run("audio-to-text", file_asset(path), timeout=60)
    assert recognised_words(SENTENCE, text.outputs[0].text()) >= 6
