"""The fal provider through a real router, against `FakeFal` on loopback: queue, logs, files, costs."""

from __future__ import annotations

import hashlib
import io
import secrets
import struct
import wave
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import model_service_pb2_grpc as model_grpc
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb
from prizm.v1 import router_service_pb2_grpc as router_grpc

from prizm_core.assets import text_asset
from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.enums import JobState
from prizm_core.errors import PrizmError, Reason
from prizm_core.options import options_struct
from provider_servers.fal.fake import FakeFal, Script, video_bytes
from tests.integration.fal_mesh import KEY, VIDEO_MODEL, fal_mesh
from tests.support.processes import ServerProcess

FIFTY_MB = 50 * 1024 * 1024

fake, fresh_script, provider, router, client = fal_mesh()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_a_picture_with_queue_position_logs_and_cost(client: PrizmClient, fake: FakeFal) -> None:
    fake.script = Script(
        queue_positions=(2, 0), logs=("Loading", f"env FAL_KEY={KEY}", "Sampling: 50%", "Sampling: 100%")
    )
    events: list[Progress] = []
    options = {"width": 512, "height": 256, "num_outputs": 2, "format": "png", "seed": 7}
    result = await client.run(
        "text-to-image",
        "a red kite",
        model="fal-ai/flux/schnell",
        options=options,
        timeout=60,
        on_event=lambda e: events.append(e) if isinstance(e, Progress) else None,
    )
    assert [_png_size(o.data) for o in result.outputs] == [(512, 256), (512, 256)]
    assert result.outputs[0].data != result.outputs[1].data  # seeds 7 and 8: two different pictures
    submitted = [c for c in fake.calls if c.method == "POST" and c.path == "/fal-ai/flux/schnell"][-1]
    assert submitted.headers["Authorization"] == f"Key {KEY}"
    assert submitted.json == {
        "prompt": "a red kite",
        "image_size": {"width": 512, "height": 256},
        "num_images": 2,
        "seed": 7,
        "output_format": "png",
        "num_inference_steps": 4,
        "enable_safety_checker": True,
    }
    queued = [e.queue_position for e in events if e.state == JobState.QUEUED]
    assert queued == [3, 1]  # fal counts from 0, Prizm from 1
    logs = [line for e in events for line in e.logs]
    assert [logs[0], *logs[2:]] == ["Loading", "Sampling: 50%", "Sampling: 100%"]
    assert logs[1].startswith("env FAL_KEY=") and KEY not in logs[1]  # a runner's log is scrubbed too
    assert 0.5 in [e.fraction for e in events]
    assert result.cost.amount == pytest.approx(2 * 512 * 256 / 1e6 * 0.003)


async def test_an_audio_input_over_a_megabyte_goes_through_fal_storage(
    client: PrizmClient, fake: FakeFal, tmp_path: Path
) -> None:
    audio = tmp_path / "speech.wav"
    audio.write_bytes(secrets.token_bytes(3 * 1024 * 1024))
    result = await client.run("audio-to-text", audio, model="fal-ai/whisper", timeout=60)
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    assert result.outputs[0].data.decode() == f"{3 * 1024 * 1024} bytes, sha256 {digest}"
    initiated = fake.requests("POST", "/storage/upload/initiate")[-1]
    assert initiated.query == {"storage_type": "gcs"}
    assert initiated.json["file_name"] == "input.wav" and initiated.json["content_type"].startswith("audio/")
    uploaded = [c for c in fake.calls if c.method == "PUT" and c.path.startswith("/upload/")][-1]
    assert uploaded.body == audio.read_bytes()
    assert uploaded.headers["Content-Type"] == initiated.json["content_type"]
    submitted = [c for c in fake.calls if c.path == "/fal-ai/whisper"][-1]
    assert submitted.json["audio_url"].startswith(f"{fake.url}/files/")


async def test_a_small_input_goes_as_a_data_uri(client: PrizmClient, fake: FakeFal, tmp_path: Path) -> None:
    audio = tmp_path / "short.wav"
    audio.write_bytes(b"RIFF" + secrets.token_bytes(2000))
    result = await client.run("audio-to-text", audio, model="fal-ai/whisper", timeout=60)
    assert result.outputs[0].data.decode().startswith("2004 bytes, sha256 ")
    submitted = [c for c in fake.calls if c.path == "/fal-ai/whisper"][-1]
    assert submitted.json["audio_url"].startswith("data:audio/")


def _vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


async def test_a_50_mb_video_is_relayed_in_chunks_with_flat_memory(
    client: PrizmClient, fake: FakeFal, router: ServerProcess, provider: ServerProcess
) -> None:
    fake.script = Script(logs=("Rendering",), video_bytes=FIFTY_MB)
    before = {p.pid: _vm_kib(p.pid, "VmRSS") for p in (router, provider)}
    chunks = 0
    digest = hashlib.sha256()
    size = 0
    async for event in client.stream("text-to-video", "a paper boat", model=VIDEO_MODEL, timeout=120):
        data = getattr(event, "data", None)
        if isinstance(data, bytes) and data:
            chunks += 1
            size += len(data)
            digest.update(data)
    assert size == FIFTY_MB
    assert digest.hexdigest() == hashlib.sha256(video_bytes(FIFTY_MB)).hexdigest()
    assert chunks > 50
    for process in (router, provider):
        grown_mib = (_vm_kib(process.pid, "VmHWM") - before[process.pid]) / 1024
        assert grown_mib < 40, f"{process.pid} grew {grown_mib:.0f} MiB relaying 50 MiB"
    submitted = [c for c in fake.calls if c.path == f"/{VIDEO_MODEL}"][-1]
    assert submitted.json == {"prompt": "a paper boat", "duration": 5, "cfg_scale": 0.5}


async def test_a_declared_model_is_estimated_by_its_price(client: PrizmClient, router: ServerProcess) -> None:
    request = router_pb.RouterServiceEstimateCostRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_VIDEO,
        model=VIDEO_MODEL,
        inputs=[text_asset("a paper boat")],
        options=options_struct({"duration_s": 10}),
    )
    async with insecure_channel(router.address) as channel:
        answer = await router_grpc.RouterServiceStub(channel).EstimateCost(request, timeout=10)
    assert answer.cost.amount == pytest.approx(2.8)
    assert answer.cost.currency == "USD"


async def test_any_fal_endpoint_runs_by_its_id_with_its_options_as_given(
    provider: ServerProcess, fake: FakeFal, client: PrizmClient
) -> None:
    fake.script = Script(queue_positions=(), logs=("Rendering",), video_bytes=4096)
    request = model_pb.TransformRequest(
        capability=media_pb.CAPABILITY_TEXT_TO_VIDEO,
        model="fal-ai/some/new-model",
        inputs=[text_asset("a paper boat")],
        options=options_struct({"motion_bucket_id": 127, "style": "noir", "loop": True}),
    )
    async with insecure_channel(provider.address) as channel:
        stub = model_grpc.ModelServiceStub(channel)
        events = [event async for event in stub.Transform(request, timeout=30)]
        data = b"".join(e.output_chunk.data for e in events if e.WhichOneof("event") == "output_chunk")
        assert data == video_bytes(4096)
        submitted = [c for c in fake.calls if c.path == "/fal-ai/some/new-model"][-1]
        assert submitted.json == {
            "prompt": "a paper boat",
            "motion_bucket_id": 127,
            "style": "noir",
            "loop": True,
        }
        headers = [e.output_header for e in events if e.WhichOneof("event") == "output_header"]
        assert headers[0].asset.mime_type == "video/mp4"
        control = provider_grpc.ProviderServiceStub(channel)
        listed = await control.ListModels(provider_pb.ListModelsRequest(), timeout=5)
        assert "fal-ai/some/new-model" not in [m.id for m in listed.models]
        info = await control.GetProviderInfo(provider_pb.GetProviderInfoRequest(), timeout=5)
        assert info.provider.runs_unlisted_models
        # Still no list, null or nested value, nor an id that is not a fal endpoint's.
        request.options.CopyFrom(options_struct({"motion_bucket_id": 127}))
        request.options.fields["frames"].list_value.values.add().number_value = 1
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Transform(request, timeout=10).read()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        request.model = "not-a-fal-id"
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.Transform(request, timeout=10).read()
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_router_sends_a_job_naming_an_unlisted_model_to_fal(
    client: PrizmClient, fake: FakeFal
) -> None:
    fake.script = Script(queue_positions=(), logs=(), video_bytes=2048)
    result = await client.run(
        "text-to-video", "a paper boat", model="fal-ai/another/new-model", options={"fps": 24}, timeout=30
    )
    assert result.outputs[0].data == video_bytes(2048)
    provenance = result.outputs[0].provenance
    assert (provenance.provider_id, provenance.model_id) == ("fal", "fal-ai/another/new-model")
    submitted = [c for c in fake.calls if c.path == "/fal-ai/another/new-model"][-1]
    assert submitted.json == {"prompt": "a paper boat", "fps": 24}


async def test_speech_maps_voice_and_speed_and_costs_by_the_character(
    client: PrizmClient, fake: FakeFal
) -> None:
    fake.script = Script(queue_positions=(0,), logs=())
    text = "The quick brown fox jumps over the lazy dog, twice over."
    result = await client.run(
        "text-to-audio",
        text,
        model="fal-ai/kokoro/american-english",
        options={"voice": "am_onyx", "speed": 1.5},
        timeout=30,
    )
    submitted = [c for c in fake.calls if c.path == "/fal-ai/kokoro/american-english"][-1]
    assert submitted.json == {"prompt": text, "voice": "am_onyx", "speed": 1.5}
    with wave.open(io.BytesIO(result.outputs[0].data), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx(len(text) / 15 / 1.5, abs=0.01)
    assert result.outputs[0].mime_type == "audio/wav"
    assert result.cost.amount == pytest.approx(len(text) * 0.00002)
    with pytest.raises(PrizmError) as refused:  # not one of fal's Kokoro voices: refused before any call
        await client.run(
            "text-to-audio", text, model="fal-ai/kokoro/american-english", options={"voice": "x"}
        )
    assert refused.value.reason == Reason.INVALID_OPTIONS
