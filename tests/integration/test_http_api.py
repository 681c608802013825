"""The generic HTTP provider through a real router, against the AmazingAI fake on loopback."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import FileSink, PrizmClient
from prizm_core.client.events import Progress
from prizm_core.enums import JobState, MediaUnit
from prizm_core.errors import PrizmError
from provider_servers.http_api.fake import SECONDS_PER_CHARACTER, AmazingAiFake
from provider_servers.http_api.provider import CONFIG_ENV
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider, start_router, write_config

FAKE_CONFIG = Path(__file__).parents[2] / "provider_servers" / "http_api" / "fake_config.yaml"
CANARY = f"sk-CANARY-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def fake() -> Iterator[AmazingAiFake]:
    """The AmazingAI fake, accepting only the canary key."""
    with AmazingAiFake(CANARY) as server:
        yield server


@pytest.fixture(scope="module")
def provider(fake: AmazingAiFake) -> Iterator[ServerProcess]:
    """The HTTP API provider serving fake_config.yaml, its key and base URL from the environment."""
    env = {CONFIG_ENV: str(FAKE_CONFIG), "AMAZINGAI_API_KEY": CANARY, "AMAZINGAI_BASE_URL": fake.url}
    server = start_provider("http_api", env=env)
    yield server
    server.stop()
    assert CANARY not in server.log_text()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, provider: ServerProcess) -> Iterator[ServerProcess]:
    """A router in front of the provider."""
    config = write_config(tmp_path_factory.mktemp("http_api") / "router.yaml", [provider.address])
    server = start_router(config)
    asyncio.run(wait_routable(server.address, 1))
    yield server
    server.stop()
    assert CANARY not in server.log_text()


def _wav(data: bytes | None) -> tuple[float, int]:
    assert data is not None
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate(), wav.getframerate()


def _png_size(data: bytes | None) -> tuple[int, int]:
    assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_sync_body_output_is_the_vendors_audio(router: ServerProcess, fake: AmazingAiFake) -> None:
    text = "Hello from the generic HTTP provider."
    async with PrizmClient(router.address, max_attempts=1) as client:
        result = await client.run(
            "text-to-audio",
            text,
            model="amazing-speech",
            options={"voice": "high", "speed": 2.0, "sample_rate": 8000},
        )
    seconds, rate = _wav(result.outputs[0].data)
    assert rate == 8000
    assert seconds == pytest.approx(len(text) * SECONDS_PER_CHARACTER / 2, abs=0.01)
    assert result.outputs[0].mime_type == "audio/wav"
    sent = fake.requests("POST", "/v1/speech")[-1]
    assert sent.json == {"text": text, "voice": "high", "speed": 2.0, "sample_rate": 8000}
    assert result.completion.cost.amount == pytest.approx(len(text) * 0.00002)


async def test_base64_outputs_and_reported_usage(router: ServerProcess, fake: AmazingAiFake) -> None:
    async with PrizmClient(router.address, max_attempts=1) as client:
        result = await client.run(
            "text-to-image",
            "a red square",
            model="amazing-image",
            options={"width": 40, "height": 24, "num_outputs": 2, "seed": 7},
        )
    assert [_png_size(output.data) for output in result.outputs] == [(40, 24), (40, 24)]
    assert result.outputs[0].data != result.outputs[1].data  # each image its own color
    sent = fake.requests("POST", "/v1/images")[-1].json
    assert sent == {"prompt": "a red square", "width": 40, "height": 24, "seed": 7, "n": 2}  # no style
    assert result.completion.cost.amount == pytest.approx(0.02)


async def test_multipart_upload_and_text_output(
    router: ServerProcess, fake: AmazingAiFake, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x00" * 24000)
    upload = tmp_path / "speech.wav"
    upload.write_bytes(buffer.getvalue())
    async with PrizmClient(router.address, max_attempts=1) as client:
        result = await client.run("audio-to-text", upload, model="amazing-listen", options={"language": "de"})
    assert result.outputs[0].data == b"1.50 seconds of 16000 Hz audio in de"
    sent = fake.requests("POST", "/v1/transcriptions")[-1]
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert b'Content-Disposition: form-data; name="file"; filename="input' in sent.body


async def test_async_job_reports_queue_position_and_progress(
    router: ServerProcess, fake: AmazingAiFake
) -> None:
    text = "A long story, read aloud."
    async with PrizmClient(router.address, max_attempts=1) as client:
        result = await client.run("text-to-audio", text, model="amazing-narrator", timeout=30)
        events: list[Progress] = []
        async for event in client.stream("text-to-audio", text, model="amazing-narrator", timeout=30):
            if isinstance(event, Progress):
                events.append(event)
    seconds, _ = _wav(result.outputs[0].data)
    assert seconds == pytest.approx(len(text) * SECONDS_PER_CHARACTER, abs=0.01)
    queued = [e.queue_position for e in events if e.state == JobState.QUEUED]
    assert queued == [2, 1]
    fractions = [e.fraction for e in events if e.state == JobState.RUNNING and e.stage == "running"]
    assert fractions == pytest.approx([0.25, 0.5, 0.75])
    usage = {amount.unit: amount.quantity for amount in result.completion.usage}
    assert usage[MediaUnit.OUTPUT_AUDIO_SECOND] == pytest.approx(seconds, abs=0.01)
    assert usage[MediaUnit.INPUT_CHARACTER] == len(text)


async def test_cancel_reaches_the_vendor(router: ServerProcess, fake: AmazingAiFake) -> None:
    fake.queued_polls = 10_000  # the job stays queued until it is cancelled
    try:
        async with PrizmClient(router.address, max_attempts=1) as client:
            async for event in client.stream("text-to-audio", "never read", model="amazing-narrator"):
                if isinstance(event, Progress) and event.state == JobState.QUEUED:
                    break
        job_id = f"job-{len(fake.jobs)}"
        deadline = time.monotonic() + 10
        # The fake runs in its own thread and records calls as they come: polled, not awaited.
        while not fake.requests("POST", f"/v1/jobs/{job_id}/cancel") and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert fake.requests("POST", f"/v1/jobs/{job_id}/cancel")
        assert fake.jobs[job_id].status == "canceled"
    finally:
        fake.queued_polls = 2


@pytest.mark.parametrize(
    ("text", "model", "code", "reason", "words"),
    [
        (
            "[429] again",
            "amazing-speech",
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "UPSTREAM_RATE_LIMITED",
            "slow down",
        ),
        ("[503] busy", "amazing-speech", grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", "busy"),
        ("[400] long", "amazing-image", grpc.StatusCode.INVALID_ARGUMENT, "UPSTREAM_REJECTED", "longer than"),
        ("[unsafe] x", "amazing-image", grpc.StatusCode.INVALID_ARGUMENT, "CONTENT_FILTERED", "usage policy"),
        ("[fail] it", "amazing-narrator", grpc.StatusCode.ABORTED, "UPSTREAM_JOB_FAILED", "lost their voice"),
        ("[echo-key]", "amazing-speech", grpc.StatusCode.INVALID_ARGUMENT, "UPSTREAM_REJECTED", "[redacted]"),
    ],
)
async def test_vendor_errors_are_mapped(  # noqa: PLR0917 - pytest passes parameters by position
    router: ServerProcess, text: str, model: str, code: grpc.StatusCode, reason: str, words: str
) -> None:
    capability = "text-to-image" if model == "amazing-image" else "text-to-audio"
    async with PrizmClient(router.address, max_attempts=1) as client:
        with pytest.raises(PrizmError) as caught:
            await client.run(capability, text, model=model, timeout=30)
    assert (caught.value.code, caught.value.reason) == (code, reason)
    assert words in caught.value.message
    assert CANARY not in caught.value.message
    if reason == "UPSTREAM_RATE_LIMITED":
        assert caught.value.retry_after_s == pytest.approx(7.0)


def _serve(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "provider_servers.http_api", "--port", "0"]
    full_env = {**os.environ, CONFIG_ENV: str(config), **env}
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (("path: /v1/speech", "pth: /v1/speech"), "models.0.request.pth: Extra inputs are not permitted"),
        (("progress_scale: percent", "progress_scale: permille"), "models.3.job.progress_scale"),
        (("voice: ${option.voice}", "voice: ${option.tone}"), "unknown placeholder ${option.tone}"),
        (("path: data[*].b64_json", "path: data[*.b64_json"), "models.1.response.path"),
    ],
)
def test_a_bad_config_is_refused_at_start_in_one_line(
    tmp_path: Path, edit: tuple[str, str], named: str
) -> None:
    config = tmp_path / "bad.yaml"
    text = FAKE_CONFIG.read_text()
    assert edit[0] in text
    config.write_text(text.replace(edit[0], edit[1], 1))
    done = _serve(config, {"AMAZINGAI_API_KEY": CANARY})
    assert done.returncode == 78
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if named in line]
    assert len(lines) == 1 and f"{config}:" in lines[0]


def test_without_its_key_the_provider_names_the_variable() -> None:
    env = {key: value for key, value in os.environ.items() if key != "AMAZINGAI_API_KEY"}
    command = [sys.executable, "-m", "provider_servers.http_api", "--port", "0"]
    env[CONFIG_ENV] = str(FAKE_CONFIG)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 78
    assert "set AMAZINGAI_API_KEY to use amazingai" in done.stderr


async def test_a_rejected_key_makes_the_provider_not_serving(fake: AmazingAiFake) -> None:
    wrong = f"sk-CANARY-{secrets.token_hex(12)}"
    env = {CONFIG_ENV: str(FAKE_CONFIG), "AMAZINGAI_API_KEY": wrong, "AMAZINGAI_BASE_URL": fake.url}
    server = start_provider("http_api", env=env)
    try:
        deadline = time.monotonic() + 20
        found = await status(server.address)
        while "UPSTREAM_AUTH_FAILED" not in found.detail and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            found = await status(server.address)
        assert found.state != provider_pb.SERVICE_STATE_RUNNING
        assert "UPSTREAM_AUTH_FAILED" in found.detail
        assert wrong not in found.detail
        # Health asked the free endpoint only, never a paid one.
        sent = {
            (call.method, call.path)
            for call in fake.calls
            if call.headers.get("Authorization") == f"Bearer {wrong}"
        }
        assert sent == {("GET", "/v1/models")}
    finally:
        server.stop()
    assert wrong not in server.log_text()


def _peak_rss_kib(pid: int) -> int:
    status_lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status_lines if line.startswith("VmHWM:"))


def _rss_kib(pid: int) -> int:
    status_lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status_lines if line.startswith("VmRSS:"))


async def test_a_50_mb_body_is_relayed_in_flat_memory(
    router: ServerProcess, provider: ServerProcess, tmp_path: Path
) -> None:
    text = "x" * 4600  # 552 s of 48 kHz audio at half speed: 53 MB of WAV
    before = _rss_kib(provider.pid)
    async with PrizmClient(router.address, max_attempts=1) as client:
        result = await client.run(
            "text-to-audio",
            text,
            model="amazing-speech",
            options={"speed": 0.5, "sample_rate": 48000},
            sink=FileSink(lambda header: tmp_path / f"out-{header.index}.wav"),
            timeout=120,
        )
    path = result.outputs[0].path
    assert path is not None
    assert path.stat().st_size > 50_000_000
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(552.0, abs=0.01)
    # The provider relayed the body a chunk at a time: its peak grew by far less than the body.
    assert _peak_rss_kib(provider.pid) - before < 20_000


async def test_two_configs_serve_side_by_side(fake: AmazingAiFake, tmp_path: Path) -> None:
    second = tmp_path / "amazingai-eu.yaml"
    second.write_text(FAKE_CONFIG.read_text().replace("id: amazingai\n", "id: amazingai-eu\n", 1))
    base = {"AMAZINGAI_API_KEY": CANARY, "AMAZINGAI_BASE_URL": fake.url}
    servers = [
        start_provider("http_api", env={**base, CONFIG_ENV: str(FAKE_CONFIG)}),
        start_provider("http_api", env={**base, CONFIG_ENV: str(second)}),
    ]
    router = start_router(write_config(tmp_path / "router.yaml", [server.address for server in servers]))
    try:
        endpoints = await wait_routable(router.address, 2)
        assert sorted(endpoint.provider.id for endpoint in endpoints) == ["amazingai", "amazingai-eu"]
        async with PrizmClient(router.address, max_attempts=1) as client:
            result = await client.run(
                "text-to-image",
                "two of us",
                model="amazing-image",
                routing=router_pb.RoutingHints(provider="amazingai-eu"),
            )
        assert result.outputs[0].provenance.provider_id == "amazingai-eu"
        assert _png_size(result.outputs[0].data) == (64, 64)
    finally:
        for server in [router, *servers]:
            server.stop()
