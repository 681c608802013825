"""The Replicate provider through a real router, against `ReplicateFake` on loopback: what works."""

from __future__ import annotations

import hashlib
import io
import wave
from pathlib import Path

import pytest

from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from provider_servers.replicate.fake import ESRGAN_VERSION, ReplicateFake
from provider_servers.replicate.fake_media import png, png_size
from tests.support.replicate import (
    LLAMA,
    PRO,
    SCHNELL,
    TOKEN,
    Mesh,
    creations,
    last_id,
    output_bytes,
)

FIFTY_MB = 50 * 1024 * 1024


async def test_prefer_wait_finishes_a_short_job_without_polling(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    options: dict[str, str | int] = {"aspect_ratio": "16:9", "num_outputs": 2, "seed": 7, "format": "png"}
    result = await client.run("text-to-image", "a red kite", model=SCHNELL, options=options, timeout=60)
    assert [png_size(output_bytes(result, i)) for i in range(len(result.outputs))] == [
        (1344, 768),
        (1344, 768),
    ]
    assert result.outputs[0].data == png(1344, 768, "a red kite|7|0")
    assert result.outputs[0].data != result.outputs[1].data
    created = fake.requests("POST", f"/v1/models/{SCHNELL}/predictions")[-1]
    assert created.headers["Authorization"] == f"Bearer {TOKEN}"
    assert created.headers["Prefer"].startswith("wait=")
    assert created.json == {
        "input": {
            "prompt": "a red kite",
            "aspect_ratio": "16:9",
            "megapixels": "1",
            "seed": 7,
            "num_outputs": 2,
            "output_format": "png",
            "output_quality": 80,
            "num_inference_steps": 4,
            "go_fast": True,
        }
    }
    assert not [c for c in fake.calls if c.method == "GET" and c.path.startswith("/v1/predictions/")]
    assert result.cost.amount == pytest.approx(2 * 0.003)
    # Health asks the free account endpoint, with the token: never a prediction.
    assert fake.requests("GET", "/v1/account")[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_progress_and_log_lines_come_from_the_logs(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.polls = 4
    events: list[Progress] = []
    result = await client.run(
        "text-to-image",
        "a lighthouse",
        model=SCHNELL,
        options={"seed": 3},
        timeout=60,
        on_event=lambda e: events.append(e) if isinstance(e, Progress) else None,
    )
    assert png_size(output_bytes(result)) == (1024, 1024)
    fractions = [e.fraction for e in events if e.fraction]
    assert fractions == sorted(fractions)
    assert {0.25, 0.5, 0.75} <= set(fractions)
    assert "Using seed: 3" in [line for e in events for line in e.logs]
    assert not [line for e in events for line in e.logs if "%|" in line]  # bars became fractions
    polls = [c for c in fake.calls if c.method == "GET" and c.path.startswith("/v1/predictions/")]
    assert len(polls) >= 4


async def test_width_and_height_become_a_custom_aspect_ratio(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    result = await client.run(
        "text-to-image", "a harbour", model=PRO, options={"width": 512, "height": 320}, timeout=60
    )
    assert png_size(output_bytes(result)) == (512, 320)
    sent = creations(fake, PRO)[-1]["input"]
    assert isinstance(sent, dict)
    assert (sent["aspect_ratio"], sent["width"], sent["height"]) == ("custom", 512, 320)


async def test_a_model_declared_in_config_runs_on_its_deployment(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    fake.polls = 2
    result = await client.run("text-to-image", "a fox", model="acme-flux", timeout=60)
    assert png_size(output_bytes(result)) == (1216, 832)  # its default aspect ratio, 3:2
    created = fake.requests("POST", "/v1/deployments/black-forest-labs/flux-schnell/predictions")[-1]
    assert created.json == {"input": {"prompt": "a fox", "output_format": "png", "aspect_ratio": "3:2"}}
    assert result.cost.amount == pytest.approx(1.25 * 0.001)  # the predict time the fake reports


async def test_the_router_sends_a_job_naming_an_unlisted_model_to_replicate(
    client: PrizmClient, fake: ReplicateFake
) -> None:
    dev = "black-forest-labs/flux-dev"
    options: dict[str, str | int] = {"output_format": "png", "megapixels": "0.25", "seed": 5}
    result = await client.run("text-to-image", "a wren", model=dev, options=options, timeout=60)
    assert png_size(output_bytes(result)) == (512, 512)
    assert result.outputs[0].data == png(512, 512, "a wren|5|0")
    assert result.outputs[0].mime_type == "image/png"  # from the file's URL
    provenance = result.outputs[0].provenance
    assert (provenance.provider_id, provenance.model_id) == ("replicate", dev)
    created = fake.requests("POST", f"/v1/models/{dev}/predictions")[-1]
    assert created.json == {
        "input": {"output_format": "png", "megapixels": "0.25", "seed": 5, "prompt": "a wren"}
    }
    assert dev not in [m.id for m in await client.list_models(provider="replicate")]


async def test_an_unlisted_version_and_deployment_run_by_reference(
    client: PrizmClient, fake: ReplicateFake, tmp_path: Path
) -> None:
    picture = tmp_path / "small.png"
    picture.write_bytes(png(40, 30, "small"))
    version = f"nightmareai/real-esrgan:{ESRGAN_VERSION}"
    result = await client.run("image-to-image", picture, model=version, options={"scale": 3})
    assert png_size(output_bytes(result)) == (120, 90)
    created = fake.requests("POST", "/v1/predictions")[-1]
    assert created.json["version"] == ESRGAN_VERSION
    assert created.json["input"]["scale"] == 3
    assert created.json["input"]["image"].startswith("data:image/png;base64,")  # kind's field name
    deployment = f"deployments/{SCHNELL}"
    options = {"output_format": "png", "aspect_ratio": "16:9"}
    result = await client.run("text-to-image", "a heron", model=deployment, options=options, timeout=60)
    assert png_size(output_bytes(result)) == (1344, 768)
    created = fake.requests("POST", f"/v1/{deployment}/predictions")[-1]
    assert created.json == {"input": {"output_format": "png", "aspect_ratio": "16:9", "prompt": "a heron"}}


async def test_a_language_model_streams_its_answer(client: PrizmClient, fake: ReplicateFake) -> None:
    fake.polls = 1  # not done at creation: the answer comes from the stream
    events: list[Progress] = []
    result = await client.run(
        "text-to-text",
        "tell me a story",
        model=LLAMA,
        timeout=60,
        on_event=lambda e: events.append(e) if isinstance(e, Progress) else None,
    )
    assert output_bytes(result).decode() == "You said: tell me a story"
    pieces = [e.message for e in events if e.stage == "generate"]
    assert pieces == ["You ", "said: ", "tell ", "me ", "a ", "story"]
    assert "Loading Llama 3" in [line for e in events for line in e.logs]
    created = fake.requests("POST", f"/v1/models/{LLAMA}/predictions")[-1]
    assert created.json["stream"] is True
    assert created.json["input"]["max_tokens"] == 512
    streamed = fake.requests("GET", f"/v1/streams/{last_id(fake)}")
    assert streamed and streamed[0].headers["Accept"] == "text/event-stream"
    assert result.cost.amount == pytest.approx(4 * 0.05e-6 + 6 * 0.25e-6)  # Replicate's token counts


async def test_speech_is_a_wav_of_the_text_s_length(client: PrizmClient, fake: ReplicateFake) -> None:
    text = "Replicate speaks through Prizm."
    result = await client.run(
        "text-to-audio",
        text,
        model="minimax/speech-02-turbo",
        options={"voice": "Calm_Woman", "speed": 2.0, "format": "wav"},
        timeout=60,
    )
    assert result.outputs[0].mime_type == "audio/wav"
    with wave.open(io.BytesIO(output_bytes(result))) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert seconds == pytest.approx(len(text) * 0.06 / 2, abs=0.01)
    sent = creations(fake, "minimax/speech-02-turbo")[-1]["input"]
    assert isinstance(sent, dict)
    assert (sent["text"], sent["voice_id"], sent["audio_format"], sent["speed"]) == (
        text,
        "Calm_Woman",
        "wav",
        2.0,
    )
    assert result.cost.amount == pytest.approx(len(text) * 0.06 / 1000)


async def test_an_upscale_by_version_takes_a_small_picture_as_a_data_url(
    client: PrizmClient, fake: ReplicateFake, tmp_path: Path
) -> None:
    picture = tmp_path / "small.png"
    picture.write_bytes(png(40, 30, "small"))
    result = await client.run(
        "image-to-image", picture, model="nightmareai/real-esrgan", options={"scale": 2.0}
    )
    assert png_size(output_bytes(result)) == (80, 60)
    created = fake.requests("POST", "/v1/predictions")[-1]
    assert created.json["version"] == ESRGAN_VERSION
    assert created.json["input"]["image"].startswith("data:image/png;base64,")
    assert result.cost.amount == pytest.approx(1.25 * 0.000225)  # the fake's predict_time


async def test_a_picture_over_a_megabyte_goes_through_the_files_api(
    client: PrizmClient, fake: ReplicateFake, tmp_path: Path
) -> None:
    picture = tmp_path / "large.png"
    picture.write_bytes(png(700, 600, "large", noise=True))
    assert picture.stat().st_size > 1024 * 1024
    result = await client.run(
        "image-to-image", picture, model="nightmareai/real-esrgan", options={"scale": 0.5}
    )
    assert png_size(output_bytes(result)) == (350, 300)
    upload = fake.requests("POST", "/v1/files")[-1]
    assert hashlib.sha256(picture.read_bytes()).hexdigest().encode() not in upload.body
    assert picture.read_bytes() in upload.body
    created = fake.requests("POST", "/v1/predictions")[-1]
    assert created.json["input"]["image"].startswith(f"{fake.url}/v1/files/")


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


async def test_a_50_mb_output_is_relayed_in_chunks_with_flat_memory(
    client: PrizmClient, fake: ReplicateFake, mesh: Mesh
) -> None:
    fake.output_bytes = FIFTY_MB
    before = {p.pid: _kib(p.pid, "VmRSS") for p in (mesh.router, mesh.provider)}
    chunks, size, digest = 0, 0, hashlib.sha256()
    async for event in client.stream(
        "text-to-image", "a big one", model=SCHNELL, options={"seed": 1}, timeout=120
    ):
        data = getattr(event, "data", None)
        if isinstance(data, bytes) and data:
            chunks += 1
            size += len(data)
            digest.update(data)
    expected = png(4096, FIFTY_MB // (4096 * 3) + 1, "a big one|1|0", noise=True)
    assert size == len(expected)
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest()
    assert chunks > 50
    for process in (mesh.router, mesh.provider):
        grown_mib = (_kib(process.pid, "VmHWM") - before[process.pid]) / 1024
        assert grown_mib < 40, f"{process.pid} grew {grown_mib:.0f} MiB relaying 50 MiB"
