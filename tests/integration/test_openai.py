"""The openai provider behind a real router, against FakeOpenAI on loopback, with a canary key."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client import PrizmClient
from prizm_core.client.events import OutputChunk, Progress
from prizm_core.enums import MediaUnit
from prizm_core.errors import PrizmError, Reason
from provider_servers.openai.fake import SPEECH_SECONDS_PER_CHARACTER, FakeOpenAI
from provider_servers.openai.fake_media import encode_speech, png, png_size, tone_pcm, wav
from provider_servers.openai.models import MODELS
from tests.support.control import configure, status
from tests.support.mesh import settled, wait_routable, wait_until
from tests.support.processes import ServerProcess, router_for, start_provider

KEY = f"sk-CANARY-{secrets.token_hex(12)}"
PROMPT = "a lighthouse on a cliff at dawn"
PRICES = {model.id: model.prices for model in MODELS}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    """OpenAI's API on loopback, taking only the canary key."""
    with FakeOpenAI(KEY) as server:
        yield server


@pytest.fixture(scope="module")
def provider(fake: FakeOpenAI) -> Iterator[ServerProcess]:
    """The openai provider, its key and base URL from the environment."""
    server = start_provider("openai", env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url})
    yield server
    server.stop()
    assert KEY not in server.log_text()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, provider: ServerProcess) -> Iterator[ServerProcess]:
    """A router with the openai provider as its one static endpoint."""
    with router_for(tmp_path_factory.mktemp("openai"), provider) as server:
        yield server
    assert KEY not in server.log_text()


@pytest.fixture
async def client(router: ServerProcess, fake: FakeOpenAI) -> AsyncIterator[PrizmClient]:
    """A client that tries each job once, with the fake's knobs back to their defaults."""
    fake.delay_s, fake.answer, fake.speech_bytes, fake.cut_after, fake.image_delay_s = 0.01, "", 0, 0, 0.0
    await wait_routable(router.address, 1)
    async with PrizmClient(router.address, max_attempts=1) as connected:
        yield connected


def _audio(data: bytes, mime_type: str) -> media_pb.Asset:
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_AUDIO, mime_type=mime_type, data=data)


def _png_asset(data: bytes) -> media_pb.Asset:
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_IMAGE, mime_type="image/png", data=data)


def _usage(result_usage: tuple[object, ...]) -> dict[MediaUnit, float]:
    return {item.unit: item.quantity for item in result_usage}  # type: ignore[attr-defined]


async def _failure(client: PrizmClient, *args: object, **kwargs: object) -> PrizmError:
    with pytest.raises(PrizmError) as caught:
        await client.run(*args, **kwargs)  # type: ignore[arg-type]
    assert KEY not in str(caught.value) and KEY not in caught.value.message
    return caught.value


async def test_gpt_image_draws_the_size_asked_for_and_bills_the_tokens_reported(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    options = {"width": 1536, "height": 1024, "quality": "high"}
    result = await client.run("text-to-image", PROMPT, model="gpt-image-1", options=options)
    (image,) = result.outputs
    assert image.data == png(1536, 1024, f"gpt-image-1:{PROMPT}") and image.mime_type == "image/png"
    sent = fake.requests("POST", "/v1/images/generations")[-1].json
    assert sent == {
        "model": "gpt-image-1",
        "prompt": PROMPT,
        "n": 1,
        "size": "1536x1024",
        "output_format": "png",
        "quality": "high",
        "background": "auto",
    }
    usage = _usage(result.completion.usage)
    assert usage == {MediaUnit.INPUT_TOKEN: len(PROMPT) // 4 + 1, MediaUnit.OUTPUT_TOKEN: 1056}
    prices = PRICES["gpt-image-1"]
    expected = sum(usage[unit] * prices[unit] for unit in usage)
    assert result.completion.cost.amount == pytest.approx(expected)


async def test_dall_e_3_hands_a_url_that_is_downloaded(client: PrizmClient, fake: FakeOpenAI) -> None:
    options = {"width": 1024, "height": 1792, "quality": "hd"}
    result = await client.run("text-to-image", PROMPT, model="dall-e-3", options=options)
    (image,) = result.outputs
    assert png_size(image.data or b"") == (1024, 1792)
    assert image.data == png(1024, 1792, f"dall-e-3:{PROMPT}")
    assert fake.requests("POST", "/v1/images/generations")[-1].json["response_format"] == "url"
    assert any(call.path.startswith("/files/") for call in fake.calls)
    # An HD 1792-pixel image costs three standard ones.
    assert result.completion.cost.amount == pytest.approx(0.12)


async def test_dall_e_2_edits_the_picture_sent_as_multipart(client: PrizmClient, fake: FakeOpenAI) -> None:
    picture = png(64, 64, "input")
    options = {"width": 512, "height": 512, "prompt": "add a red hat", "response_format": "b64_json"}
    result = await client.run("image-to-image", _png_asset(picture), model="dall-e-2", options=options)
    seed = hashlib.sha256(picture).hexdigest()
    assert result.outputs[0].data == png(512, 512, f"dall-e-2:add a red hat:{seed}")
    body = fake.requests("POST", "/v1/images/edits")[-1].body
    assert picture in body and b'name="size"' in body and b"512x512" in body


async def test_what_openai_would_refuse_is_refused_before_any_call(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    before = len(fake.calls)
    size = await _failure(
        client, "text-to-image", PROMPT, model="dall-e-3", options={"width": 1200, "height": 1200}
    )
    assert size.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "1024x1024, 1792x1024, 1024x1792" in dict(size.field_violations)["options.width"]
    options = {"background": "transparent", "format": "jpeg"}
    clash = await _failure(client, "text-to-image", PROMPT, model="gpt-image-1", options=options)
    assert dict(clash.field_violations).keys() == {"options.background"}
    no_prompt = await _failure(client, "image-to-image", _png_asset(png(8, 8, "x")), model="gpt-image-1")
    assert dict(no_prompt.field_violations).keys() == {"options.prompt"}
    wide = await _failure(
        client, "image-to-image", _png_asset(png(8, 4, "x")), model="dall-e-2", options={"prompt": "hat"}
    )
    assert "square" in dict(wide.field_violations)["inputs[0].data"]
    junk = await _failure(client, "audio-to-text", _audio(b"not audio at all", "audio/mpeg"))
    assert junk.code == grpc.StatusCode.INVALID_ARGUMENT and "inputs[0].data" in dict(junk.field_violations)
    long = await _failure(client, "text-to-audio", "word " * 1000, model="tts-1")
    assert (long.code, long.reason) == (grpc.StatusCode.INVALID_ARGUMENT, Reason.INPUT_TOO_LARGE)
    assert len(fake.calls) == before, "a refused job must not reach OpenAI"


@pytest.mark.parametrize(
    ("audio_format", "mime_type", "magic"),
    [
        ("mp3", "audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3")),
        ("opus", "audio/ogg", (b"OggS",)),
        ("aac", "audio/aac", (b"\xff\xf1", b"\xff\xf9")),
        ("flac", "audio/flac", (b"fLaC",)),
        ("wav", "audio/wav", (b"RIFF",)),
    ],
)
async def test_speech_comes_in_every_format(
    client: PrizmClient, audio_format: str, mime_type: str, magic: tuple[bytes, ...]
) -> None:
    text = "Prizm speaks through OpenAI."
    result = await client.run("text-to-audio", text, model="tts-1", options={"format": audio_format})
    (audio,) = result.outputs
    assert audio.mime_type == mime_type and (audio.data or b"").startswith(magic)
    assert audio.data == await encode_speech(tone_pcm(len(text) * SPEECH_SECONDS_PER_CHARACTER), audio_format)
    assert _usage(result.completion.usage) == {MediaUnit.INPUT_CHARACTER: len(text)}
    assert result.completion.cost.amount == pytest.approx(len(text) * 15e-6)


async def test_speech_speed_voice_and_raw_pcm_map_to_openai(client: PrizmClient, fake: FakeOpenAI) -> None:
    text = "Twice as fast, please."
    options = {"format": "pcm", "speed": 2.0, "voice": "nova"}
    result = await client.run("text-to-audio", text, model="tts-1-hd", options=options)
    (audio,) = result.outputs
    assert audio.mime_type == "audio/pcm" and audio.metadata["sample_rate"] == "24000"
    seconds = len(audio.data or b"") / 2 / 24_000
    assert seconds == pytest.approx(len(text) * SPEECH_SECONDS_PER_CHARACTER / 2, abs=0.001)
    sent = fake.requests("POST", "/v1/audio/speech")[-1].json
    assert sent == {
        "model": "tts-1-hd",
        "input": text,
        "voice": "nova",
        "response_format": "pcm",
        "speed": 2.0,
    }
    wrong = await _failure(client, "text-to-audio", text, model="tts-1", options={"voice": "marin"})
    assert wrong.reason == Reason.INVALID_OPTIONS and "options.voice" in dict(wrong.field_violations)
    fast = await _failure(client, "text-to-audio", text, model="tts-1", options={"speed": 4.5})
    assert fast.reason == Reason.INVALID_OPTIONS


async def test_a_50_mb_speech_body_is_relayed_as_it_arrives_with_flat_memory(
    client: PrizmClient, fake: FakeOpenAI, router: ServerProcess, provider: ServerProcess
) -> None:
    fake.delay_s, fake.speech_bytes = 0.0, 50 * 1024 * 1024
    peaks = {server.pid: _peak_rss(server.pid) for server in (router, provider)}
    total, chunks = 0, 0
    async for event in client.stream(
        "text-to-audio", "A long speech.", model="tts-1", options={"format": "wav"}
    ):
        data = getattr(event, "data", None)
        if isinstance(data, bytes):
            total, chunks = total + len(data), chunks + 1
    assert total == 50 * 1024 * 1024 and chunks >= 50
    for pid, before in peaks.items():
        # Holding the body would add 50 MiB; relaying it chunk by chunk adds a few.
        assert _peak_rss(pid) - before < 20 * 1024 * 1024, f"process {pid} held the body"


def _peak_rss(pid: int) -> int:
    """A process's peak resident memory in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


async def test_speech_reaches_the_caller_before_openai_has_finished(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    fake.delay_s, fake.speech_bytes = 0.05, 4 * 1024 * 1024
    completed = len(fake.completed)
    events = client.stream("text-to-audio", "Hello there.", model="tts-1", options={"format": "mp3"})
    async for event in events:
        if isinstance(event, OutputChunk):
            # 64 pieces 50 ms apart: the first is relayed some three seconds before the last is sent.
            assert len(fake.completed) == completed, "the audio was held until OpenAI had sent it all"
            break
    await events.aclose()


async def test_transcription_sends_the_audio_and_bills_its_seconds(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    fake.transcript = "the quick brown fox"
    recording = wav(tone_pcm(3.0))
    result = await client.run("audio-to-text", _audio(recording, "audio/wav"), options={"language": "pt-BR"})
    assert result.outputs[0].text() == "the quick brown fox"
    assert _usage(result.completion.usage) == {MediaUnit.INPUT_AUDIO_SECOND: 3.0}
    assert result.completion.cost.amount == pytest.approx(3.0 * 0.0001)
    body = fake.requests("POST", "/v1/audio/transcriptions")[-1].body
    assert recording in body and b'filename="audio.wav"' in body
    assert b'name="language"\r\n\r\npt\r\n' in body


async def test_transcription_takes_mp3(client: PrizmClient, fake: FakeOpenAI) -> None:
    recording = await encode_speech(tone_pcm(2.0), "mp3")
    estimate = await client.run("audio-to-text", _audio(recording, "audio/mpeg"), model="whisper-1")
    assert estimate.outputs[0].text() == fake.transcript
    assert b'filename="audio.mp3"' in fake.requests("POST", "/v1/audio/transcriptions")[-1].body


async def test_chat_streams_its_deltas_as_progress(client: PrizmClient, fake: FakeOpenAI) -> None:
    fake.answer = "Paris is the capital of France."
    messages: list[str] = []
    result = await client.run(
        "text-to-text",
        "What is the capital of France?",
        model="gpt-4o-mini",
        options={"system": "Be brief."},
        on_event=lambda e: (
            messages.append(e.message) if isinstance(e, Progress) and e.stage == "generate" else None
        ),
    )
    assert result.outputs[0].text() == fake.answer
    assert "".join(messages) == fake.answer
    sent = fake.requests("POST", "/v1/chat/completions")[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    usage = _usage(result.completion.usage)
    assert usage == {MediaUnit.INPUT_TOKEN: 8, MediaUnit.OUTPUT_TOKEN: 6}
    assert result.completion.cost.amount == pytest.approx(8 * 0.15e-6 + 6 * 0.6e-6)


async def test_chat_without_stream_answers_in_one_piece(client: PrizmClient, fake: FakeOpenAI) -> None:
    result = await client.run("text-to-text", "hello", model="gpt-4o", options={"stream": False})
    assert result.outputs[0].text() == "You said: hello"
    assert "stream" not in fake.requests("POST", "/v1/chat/completions")[-1].json


@pytest.mark.parametrize(
    ("status", "code", "extra", "grpc_code", "reason"),
    [
        (401, "invalid_api_key", {}, grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED),
        (
            429,
            "rate_limit_exceeded",
            {"Retry-After": "7"},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.UPSTREAM_RATE_LIMITED,
        ),
        (503, None, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (400, "content_policy_violation", {}, grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED),
        (400, "invalid_value", {}, grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED),
    ],
)
async def test_openai_errors_map_to_statuses(  # noqa: PLR0917 - pytest passes parameters by position
    client: PrizmClient,
    fake: FakeOpenAI,
    status: int,
    code: str | None,
    extra: dict[str, str],
    grpc_code: grpc.StatusCode,
    reason: Reason,
) -> None:
    fake.fail("/images/generations", status, f"OpenAI says no, key {KEY}", code=code, headers=extra)
    error = await _failure(client, "text-to-image", PROMPT, model="dall-e-2")
    assert (error.code, error.reason) == (grpc_code, reason)
    assert "OpenAI says no" in error.message
    if status == 429:
        assert error.retry_after_s == 7.0


async def test_a_stream_cut_short_fails_the_job_without_a_rerun(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    fake.answer, fake.cut_after = " ".join(["word"] * 50), 3
    calls = len(fake.requests("POST", "/v1/chat/completions"))
    error = await _failure(client, "text-to-text", "go on", model="gpt-4o")
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED)
    assert len(fake.requests("POST", "/v1/chat/completions")) == calls + 1, "paid work must not be resent"


@pytest.mark.parametrize(
    ("capability", "model", "path"),
    [
        ("text-to-text", "gpt-4o-mini", "/v1/chat/completions"),
        ("text-to-audio", "tts-1", "/v1/audio/speech"),
    ],
)
async def test_cancel_drops_the_request_to_openai(  # noqa: PLR0917 - pytest passes parameters by position
    client: PrizmClient, fake: FakeOpenAI, provider: ServerProcess, capability: str, model: str, path: str
) -> None:
    fake.answer, fake.delay_s, fake.speech_bytes = " ".join(["word"] * 400), 0.05, 20 * 1024 * 1024
    aborted = len(fake.aborted)
    events = client.stream(capability, "Say a great deal, slowly.", model=model)
    async for event in events:
        if not isinstance(event, Progress) or event.sequence > 2:
            break
    await events.aclose()

    async def dropped() -> bool:
        return len(fake.aborted) > aborted

    await wait_until(dropped, timeout=5)
    assert fake.aborted[-1] == path
    await settled(client, provider.address)


async def test_a_key_set_by_configure_is_used_and_never_echoed(
    client: PrizmClient, fake: FakeOpenAI, provider: ServerProcess
) -> None:
    second = f"sk-CANARY-{secrets.token_hex(12)}"
    fake.api_key = second
    try:
        await configure(provider.address, api_key=second)
        result = await client.run("text-to-text", "hello", model="gpt-4o-mini")
        assert result.outputs[0].text() == "You said: hello"
        assert (
            fake.requests("POST", "/v1/chat/completions")[-1].headers["Authorization"] == f"Bearer {second}"
        )
    finally:
        await configure(provider.address, api_key=KEY)
        fake.api_key = KEY
    assert second not in provider.log_text()


async def test_a_key_openai_refuses_fails_the_job_without_showing_the_key(
    client: PrizmClient, fake: FakeOpenAI
) -> None:
    fake.api_key = f"sk-CANARY-{secrets.token_hex(12)}"
    try:
        error = await _failure(client, "text-to-audio", "Hello.", model="tts-1")
    finally:
        fake.api_key = KEY
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED)
    assert "Incorrect API key provided" in error.message


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI, provider: ServerProcess
) -> Iterator[tuple[ServerProcess, FakeOpenAI]]:
    """A router in front of two openai providers, each with a fake of its own."""
    with FakeOpenAI(KEY) as other:
        second = start_provider("openai", env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": other.base_url})
        try:
            with router_for(tmp_path_factory.mktemp("openai-pair"), provider, second) as server:
                yield server, other
        finally:
            second.stop()
            assert KEY not in second.log_text()


async def test_a_503_before_openai_took_the_job_fails_over_and_a_failure_after_is_not_rerun(
    pair: tuple[ServerProcess, FakeOpenAI], fake: FakeOpenAI
) -> None:
    router, other = pair
    fake.delay_s = other.delay_s = 0.0
    await wait_routable(router.address, 2)
    async with PrizmClient(router.address, max_attempts=1) as client:
        fake.fail("/chat/completions", 503, "The server is overloaded.", times=1)
        seen = len(fake.requests("POST", "/v1/chat/completions"))
        # The router spreads jobs at random: within a few jobs one lands on the failing fake first.
        for _ in range(20):
            result = await client.run("text-to-text", "hello", model="gpt-4o-mini", options={"stream": False})
            assert result.outputs[0].text() == "You said: hello"
            if len(fake.requests("POST", "/v1/chat/completions")) > seen:
                break
        else:
            raise AssertionError("no job reached the failing fake")
        fake.answer = other.answer = " ".join(["word"] * 20)
        fake.cut_after = other.cut_after = 3
        before = len(fake.calls) + len(other.calls)
        try:
            error = await _failure(client, "text-to-text", "go on", model="gpt-4o-mini")
        finally:
            fake.answer, fake.cut_after, other.answer, other.cut_after = "", 0, "", 0
        assert error.reason == Reason.UPSTREAM_JOB_FAILED
        assert len(fake.calls) + len(other.calls) == before + 1, "an accepted job must not run twice"


async def test_a_refused_key_makes_the_provider_not_serving_with_the_reason(fake: FakeOpenAI) -> None:
    wrong = f"sk-CANARY-{secrets.token_hex(12)}"
    server = start_provider("openai", env={"OPENAI_API_KEY": wrong, "OPENAI_BASE_URL": fake.base_url})
    try:
        detail = ""

        async def refused() -> bool:
            nonlocal detail
            detail = (await status(server.address)).detail
            return "UPSTREAM_AUTH_FAILED" in detail

        await wait_until(refused, timeout=10)
        assert wrong not in detail and "Incorrect API key provided" in detail
        assert fake.requests("GET", "/v1/models"), "health asks the free model list"
    finally:
        server.stop()
    assert wrong not in server.log_text()


async def test_cancel_hangs_up_on_an_image_openai_is_still_drawing(
    client: PrizmClient, fake: FakeOpenAI, provider: ServerProcess
) -> None:
    fake.image_delay_s = 30.0
    asked = len(fake.requests("POST", "/v1/images/generations"))
    aborted = len(fake.aborted)
    job = asyncio.ensure_future(client.run("text-to-image", PROMPT, model="dall-e-2"))

    async def drawing() -> bool:
        return len(fake.requests("POST", "/v1/images/generations")) > asked

    await wait_until(drawing, timeout=5)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    async def hung_up() -> bool:
        return len(fake.aborted) > aborted

    await wait_until(hung_up, timeout=5)
    assert fake.aborted[-1] == "/v1/images/generations"
    await settled(client, provider.address)
