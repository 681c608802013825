"""The Python client as its users meet it: the README example, paths, saving, retries, deadlines, sync."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import grpc
import pytest

from prizm_core import PrizmClient, PrizmError, SyncPrizmClient
from prizm_core.client import Completion, OutputChunk, OutputHeader, Progress
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import status
from tests.support.mesh import recognised_words, settled, wait_routable
from tests.support.processes import ServerProcess, synthetic_mesh

README = Path(__file__).resolve().parents[2] / "README.md"
SENTENCE = "the quick brown fox jumps over the lazy dog"


def _python_blocks(section: str) -> list[str]:
    """The Python examples of a README section, in order."""
    text = README.read_text(encoding="utf-8")
    body = text[text.index(f"## {section}\n") :].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.DOTALL)


async def _run_example(example: str, router: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", example],
        cwd=folder,
        env={**os.environ, "PRIZM_ROUTER": router},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def test_the_readme_example_saves_speech_and_shows_progress(
    mesh: ServerProcess, tmp_path: Path
) -> None:
    example = _python_blocks("Python client")[0]
    code = [line for line in example.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 3, example  # the common task takes at most three lines
    await wait_routable(mesh.address, 3)
    ran = await _run_example(example, mesh.address, tmp_path)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert any(re.match(r"\d+% ", line) for line in lines), ran.stdout  # progress, readable
    assert lines[-1].startswith("done: 1 output in "), ran.stdout
    wav = (tmp_path / "hello.wav").read_bytes()
    assert _wav_seconds(wav) >= 0.5
    async with PrizmClient(mesh.address) as client:
        heard = await client.run("audio-to-text", str(tmp_path / "hello.wav"))
    assert recognised_words("hello there", heard.outputs[0].text()) >= 1, heard.outputs[0].text()


async def test_the_readme_async_example_speaks_saves_and_hears_back(
    mesh: ServerProcess, tmp_path: Path
) -> None:
    example = _python_blocks("Python client")[1]
    await wait_routable(mesh.address, 3)
    ran = await _run_example(example, mesh.address, tmp_path)
    assert ran.returncode == 0, ran.stderr
    *progress, heard = ran.stdout.splitlines()
    assert progress, "the progress callback was called"
    assert heard.endswith(" piper") and "USD" in heard, heard
    assert recognised_words("hello there", heard) >= 1, heard
    assert _wav_seconds((tmp_path / "hello.wav").read_bytes()) >= 0.5


async def test_a_str_is_a_file_for_audio_input_and_text_for_text_input(
    mesh: ServerProcess, tmp_path: Path
) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        speech = await client.run("text-to-audio", SENTENCE)  # a str: the text itself
        saved = speech.save(tmp_path / "fox.wav")
        assert saved.read_bytes() == speech.outputs[0].data
        text = await client.run("audio-to-text", str(saved))  # a str: a file, for audio input
        (transcript,) = text.outputs
        assert transcript.provenance.input_sha256 == (hashlib.sha256(saved.read_bytes()).hexdigest(),)
        assert recognised_words(SENTENCE, transcript.text()) >= 6, transcript.text()
        note = tmp_path / "note.txt"
        note.write_text("from a file", encoding="utf-8")
        echoed = await client.run("text-to-text", note, options={"events": 1})  # a Path: always a file
        assert echoed.outputs[0].data == synthetic_output(b"from a file", 1024)
        with pytest.raises(PrizmError) as missing:
            await client.run("audio-to-text", str(tmp_path / "absent.mp3"))
    assert (missing.value.code, missing.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    ((field, problem),) = missing.value.field_violations
    assert field == "inputs[0]" and "absent.mp3" in problem


async def test_an_output_in_a_file_saves_elsewhere(mesh: ServerProcess, tmp_path: Path) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address) as client:
        result = await client.run("text-to-text", "kept", options={"events": 1, "output_bytes": 4096})
    (output,) = result.outputs
    copy = output.save(str(tmp_path / "copy.txt"))
    assert copy.read_bytes() == synthetic_output(b"kept", 4096) == output.data
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == output.sha256


async def test_a_refusal_with_retry_info_is_tried_again_before_the_first_event(tmp_config: Path) -> None:
    # One job per caller: a second job of the same caller is refused RESOURCE_EXHAUSTED
    # CALLER_CONCURRENCY_EXCEEDED with RetryInfo (0.5 s) while the first runs (about 1.5 s).
    long = {"events": 15, "interval_ms": 100}
    with synthetic_mesh(tmp_config, 1, max_jobs_per_caller=1) as (router, (provider,)):
        await wait_routable(router.address, 1)
        async with (
            PrizmClient(router.address, caller="me") as first,
            PrizmClient(router.address, caller="me", max_attempts=1) as impatient,
            PrizmClient(router.address, caller="me", max_attempts=6) as patient,
        ):
            running = first.stream("text-to-text", "first", options=long)
            assert isinstance(await anext(running), Progress)  # the first job holds the caller's slot
            with pytest.raises(PrizmError) as refused:
                await impatient.run("text-to-text", "second", options={"events": 1})
            retried = asyncio.create_task(patient.run("text-to-text", "second", options={"events": 1}))
            [event async for event in running]  # the first job ends; its slot frees
            result = await retried
        assert (refused.value.code, refused.value.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CALLER_CONCURRENCY_EXCEEDED",
        )
        assert refused.value.retry_after_s == 0.5
        assert result.outputs[0].data == synthetic_output(b"second", 1024)
        assert (await status(provider.address)).finished_jobs == 2


async def test_the_client_deadline_applies_when_the_call_gives_none(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    async with PrizmClient(mesh.address, timeout=0.5) as client:
        with pytest.raises(PrizmError) as late:
            await client.run("text-to-text", "slow", options={"events": 20, "interval_ms": 100})
        assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # A call's own timeout wins over the client's.
        done = await client.run("text-to-text", "slow", options={"events": 8, "interval_ms": 100}, timeout=30)
    assert done.outputs[0].data == synthetic_output(b"slow", 1024)


async def test_the_sync_client_works_inside_a_running_loop_and_iterates_events(mesh: ServerProcess) -> None:
    await wait_routable(mesh.address, 3)
    asyncio.get_running_loop()  # this test runs in a loop, as a notebook cell or a FastAPI route does
    with SyncPrizmClient(mesh.address) as prizm:
        seen: list[object] = []
        result = prizm.run("text-to-text", "sync", options={"events": 3}, on_event=seen.append)
        events = list(prizm.stream("text-to-text", "iterated", options={"events": 3, "output_bytes": 10}))
        for event in prizm.stream("text-to-text", "left", options={"events": 500, "interval_ms": 20}):
            if isinstance(event, Progress):
                break  # leaving the loop cancels the job
    assert result.outputs[0].data == synthetic_output(b"sync", 1024)
    # The harness's "start", the provider's three, then the output and the completion.
    shape = [Progress] * 4 + [OutputHeader, OutputChunk, Completion]
    assert [type(e) for e in seen] == [type(e) for e in events] == shape
    progress = [e for e in events if isinstance(e, Progress) and e.stage == "synthetic"]
    assert [p.fraction for p in progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert [e.sequence for e in events] == list(range(1, 8))
    chunk = events[5]
    assert isinstance(chunk, OutputChunk) and chunk.data == b"iteratedit"
    async with PrizmClient(mesh.address) as client:
        await settled(client, *[e.address for e in await client.list_providers()])


INTERRUPTED = """
import sys, time
from prizm_core import SyncPrizmClient

prizm = SyncPrizmClient(sys.argv[1])
try:
    options = {"events": 1000, "interval_ms": 20}
    prizm.run("text-to-text", "long", options=options, on_event=lambda e: print(e.sequence, flush=True))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    time.sleep(60)  # the client stays open: only the interrupt can have stopped the job
"""


async def test_ctrl_c_in_a_blocking_call_cancels_the_job(
    mesh: ServerProcess, synthetic: ServerProcess
) -> None:
    await wait_routable(mesh.address, 3)
    caller = await asyncio.create_subprocess_exec(
        sys.executable, "-c", INTERRUPTED, mesh.address, stdout=asyncio.subprocess.PIPE
    )
    assert caller.stdout is not None
    try:
        assert (await asyncio.wait_for(caller.stdout.readline(), 30)).strip() == b"1"  # the job runs
        assert (await status(synthetic.address)).active_jobs == 1
        caller.send_signal(signal.SIGINT)
        while (line := await asyncio.wait_for(caller.stdout.readline(), 10)).strip() != b"interrupted":
            assert line, "the caller ended without saying it was interrupted"
        async with PrizmClient(mesh.address) as client:
            await settled(client, synthetic.address)
        assert caller.returncode is None, "the caller is still there: the interrupt alone stopped the job"
    finally:
        caller.kill()
        await caller.wait()
