"""The ffmpeg provider behind a real router: every capability, progress, cancel, refusals, big inputs."""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from benchmarks.processes import PeakRss
from prizm_core.assets import text_asset
from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.client.results import FileSink
from prizm_core.errors import PrizmError
from prizm_core.options import OptionValue
from tests.support.control import status
from tests.support.ffmedia import (
    TONE_HZ,
    audio_asset,
    decode_audio,
    decode_frame,
    dominant_hz,
    frames_sha256,
    image_asset,
    make_file,
    probe_bytes,
    raw_video,
    sample_audio,
    sample_image,
    sample_video,
    short_video,
    video_asset,
)
from tests.support.mesh import client_of, wait_until
from tests.support.processes import ServerProcess, router_for

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def ffmpeg_router(tmp_path_factory: pytest.TempPathFactory, ffmpeg: ServerProcess) -> Iterator[ServerProcess]:
    """A router with the ffmpeg provider as its one static endpoint."""
    with router_for(tmp_path_factory.mktemp("ffmpeg"), ffmpeg) as router:
        yield router


@pytest.fixture
async def client(ffmpeg_router: ServerProcess) -> AsyncIterator[PrizmClient]:
    """A client of the router, once the provider is routable."""
    async with client_of(ffmpeg_router.address, 1) as connected:
        yield connected


def _data(result_data: bytes | None) -> bytes:
    assert result_data is not None
    return result_data


async def test_a_soundtrack_as_flac(client: PrizmClient) -> None:
    result = await client.run(
        "video-to-audio", video_asset(sample_video()), options={"format": "flac"}, timeout=30
    )
    (output,) = result.outputs
    assert output.mime_type == "audio/flac" and output.provenance.provider_id == "ffmpeg"
    found = probe_bytes(_data(output.data))
    assert found.audio["codec_name"] == "flac" and abs(found.duration_s - 3.0) < 0.1
    assert abs(dominant_hz(decode_audio(_data(output.data))) - TONE_HZ) < 5
    assert output.metadata["sample_rate"] == "44100" and output.metadata["channels"] == "1"
    usage = {u.unit: u.quantity for u in result.completion.usage}
    assert usage[catalog_pb.MEDIA_UNIT_INPUT_VIDEO_SECOND] == pytest.approx(3.0, abs=0.1)
    assert usage[catalog_pb.MEDIA_UNIT_OUTPUT_AUDIO_SECOND] == pytest.approx(3.0, abs=0.1)
    assert result.cost.amount == 0.0


async def test_audio_trimmed_resampled_and_mixed_down(client: PrizmClient) -> None:
    options: dict[str, OptionValue] = {"start_s": 1.0, "duration_s": 1.0, "sample_rate": 16000, "channels": 1}
    result = await client.run("audio-to-audio", audio_asset(sample_audio()), options=options, timeout=30)
    data = _data(result.outputs[0].data)
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (16000, 1)
        assert abs(wav.getnframes() - 16000) < 160, wav.getnframes()
    assert abs(dominant_hz(decode_audio(data)) - TONE_HZ) < 5


async def test_video_scaled_to_a_height_keeps_its_aspect(client: PrizmClient) -> None:
    result = await client.run(
        "video-to-video", video_asset(sample_video()), options={"height": 120}, timeout=30
    )
    (output,) = result.outputs
    found = probe_bytes(_data(output.data))
    assert output.mime_type == "video/mp4"
    assert found.video["codec_name"] == "h264" and found.size == (160, 120)
    assert found.audio["codec_name"] == "aac" and abs(found.duration_s - 3.0) < 0.1
    assert found.frames == 75
    assert (output.metadata["width"], output.metadata["height"]) == ("160", "120")


async def test_a_frame_is_the_one_shown_at_that_time(client: PrizmClient) -> None:
    result = await client.run(
        "video-to-image", video_asset(sample_video()), options={"at_s": 1.0}, timeout=30
    )
    (output,) = result.outputs
    assert output.mime_type == "image/png" and output.metadata["width"] == "320"
    frame = decode_frame(_data(output.data)).astype(int)
    same = decode_frame(sample_video(), 1.0).astype(int)
    later = decode_frame(sample_video(), 2.0).astype(int)
    assert np.abs(frame - same).mean() < 3 < np.abs(frame - later).mean()


async def test_a_slideshow_shows_each_image_for_its_share(client: PrizmClient) -> None:
    colors = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255)}
    slides = [image_asset(sample_image(name, "160x120")) for name in colors]
    result = await client.run(
        "image-to-video", slides, options={"duration_s": 3.0, "fps": 10, "format": "webm"}, timeout=30
    )
    data = _data(result.outputs[0].data)
    found = probe_bytes(data)
    assert found.video["codec_name"] == "vp9" and found.size == (160, 120) and found.frames == 30
    for at, rgb in zip((0.5, 1.5, 2.5), colors.values(), strict=True):
        mean = decode_frame(data, at).reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - np.array(rgb)).max() < 25, (at, mean)


async def test_a_title_card_draws_the_text(client: PrizmClient) -> None:
    options: dict[str, OptionValue] = {
        "width": 480,
        "height": 270,
        "duration_s": 2.0,
        "fps": 10,
        "text_color": "#ffff00",
        "background_color": "navy",
        "font_size": 40,
    }
    result = await client.run("text-to-video", text_asset("Hello from Prizm"), options=options, timeout=30)
    found = probe_bytes(_data(result.outputs[0].data))
    assert found.size == (480, 270) and found.frames == 20 and abs(found.duration_s - 2.0) < 0.1
    frame = decode_frame(_data(result.outputs[0].data), 1.0).astype(int)
    yellow = (frame[..., 0] > 160) & (frame[..., 1] > 160) & (frame[..., 2] < 100)
    assert 500 < yellow.sum() < 0.25 * yellow.size, yellow.sum()
    corner = frame[:20, :20].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - np.array([0, 0, 128])).max() < 25, corner


async def test_progress_rises_with_stages_messages_and_an_eta(client: PrizmClient) -> None:
    events = [
        event
        async for event in client.stream(
            "video-to-video", video_asset(short_video()), options={"width": 480}, timeout=60
        )
        if isinstance(event, Progress)
    ]
    fractions = [p.fraction for p in events if p.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([f for f in fractions if 0 < f < 1]) >= 2, fractions
    assert any(p.eta_s is not None for p in events)
    encoding = [p for p in events if p.stage == "encode"]
    assert encoding and all(p.message.startswith("encoding h264 video") for p in encoding)


def _ffmpeg_children(parent: int) -> list[int]:
    """The ffmpeg processes whose parent is `parent`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == parent and name == "ffmpeg" and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pids: list[int]) -> bool:
    return any(Path(f"/proc/{pid}").exists() for pid in pids)


def _job_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("prizm-job-*")}


async def test_cancel_kills_ffmpeg_at_once_and_leaves_no_files(
    client: PrizmClient, ffmpeg: ServerProcess
) -> None:
    before = _job_folders()
    running: list[int] = []
    async for event in client.stream(
        "video-to-video", video_asset(short_video()), options={"width": 1920, "format": "webm"}, timeout=60
    ):
        if isinstance(event, Progress) and (event.fraction or 0) > 0:
            running = _ffmpeg_children(ffmpeg.pid)
            assert _job_folders() - before, "the job works in a folder of its own"
            break
    assert running, "ffmpeg was running when the caller went away"
    cancelled = time.monotonic()

    async def killed() -> bool:
        return not _ffmpeg_children(ffmpeg.pid) and not _alive(running)

    await wait_until(killed, timeout=1.0)
    assert time.monotonic() - cancelled < 1.0

    async def tidy() -> bool:
        return (await status(ffmpeg.address)).active_jobs == 0 and _job_folders() <= before

    await wait_until(tidy, timeout=5)


async def test_bad_requests_are_refused_with_field_violations_before_any_job(
    client: PrizmClient, ffmpeg: ServerProcess
) -> None:
    video = video_asset(sample_video())
    bad: list[tuple[media_pb.Asset, dict[str, OptionValue], str, set[str]]] = [
        (video, {"width": 5, "bogus": 1}, "INVALID_OPTIONS", {"options.width", "options.bogus"}),
        (video, {"format": "webm", "video_codec": "h264"}, "INVALID_OPTIONS", {"options.video_codec"}),
        (video, {"start_s": 60.0}, "INVALID_OPTIONS", {"options.start_s"}),
        (video_asset(b"\x00not a video" * 500), {}, "UNSUPPORTED_MEDIA", {"inputs[0].data"}),
        (video_asset(short_video()[: 64 * 1024 // 8]), {}, "UNSUPPORTED_MEDIA", {"inputs[0].data"}),
        (video_asset(sample_audio(), "video/mp4"), {}, "UNSUPPORTED_MEDIA", {"inputs[0].data"}),
    ]
    before = await status(ffmpeg.address)
    # Named, so the provider answers every one: unnamed, the router refuses what its catalog does.
    ffmpeg_only = router_pb.RoutingHints(provider="ffmpeg")
    for asset, options, reason, fields in bad:
        with pytest.raises(PrizmError) as refused:
            await client.run("video-to-video", asset, options=options, routing=ffmpeg_only, timeout=30)
        error = refused.value
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason), error
        assert {name for name, _ in error.field_violations} == fields, error.field_violations
        assert tempfile.gettempdir() not in error.message, "no temporary path reaches the caller"
    after = await status(ffmpeg.address)
    assert after.finished_jobs == before.finished_jobs, "a refused request must not start a job"
    assert after.rejected_jobs == before.rejected_jobs + len(bad)


async def test_a_video_over_the_inline_limit_goes_by_reference(client: PrizmClient, tmp_path: Path) -> None:
    source = tmp_path / "raw.mkv"
    await asyncio.to_thread(source.write_bytes, raw_video())
    assert source.stat().st_size > 4 * MIB
    result = await client.run(
        "video-to-image", source, options={"mode": "contact_sheet", "rows": 1}, timeout=60
    )
    sheet = decode_frame(_data(result.outputs[0].data))
    assert sheet.shape == (4 + 192 + 4, 4 + 4 * (256 + 4), 3)


async def test_a_200_mb_video_goes_through_the_router_with_flat_memory(
    client: PrizmClient, ffmpeg_router: ServerProcess, tmp_path: Path, figures: dict[str, object]
) -> None:
    source = tmp_path / "big.mkv"
    frames = 150  # 1280x720 yuv420p is 1.38 MB a frame: 207 MB in all
    await asyncio.to_thread(
        make_file, source, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
        "-frames:v", str(frames), "-c:v", "rawvideo", "-pix_fmt", "yuv420p",
    )  # fmt: skip
    size = source.stat().st_size
    assert size > 200 * 1000 * 1000
    target = tmp_path / "out" / "copy.mkv"
    with PeakRss(ffmpeg_router.pid) as router_memory:
        result = await client.run(
            "video-to-video",
            source,
            options={"format": "mkv", "video_codec": "copy"},
            sink=FileSink(lambda header: target),
            timeout=300,
        )
    output = result.outputs[0]
    assert output.path == target and target.stat().st_size > 200 * 1000 * 1000
    assert output.metadata["width"] == "1280" and output.metadata["height"] == "720"
    assert abs(float(output.metadata["duration_s"]) - frames / 25) < 0.1
    assert await asyncio.to_thread(frames_sha256, target) == await asyncio.to_thread(frames_sha256, source)
    figures["video_200mb_router_growth_mib"] = round(router_memory.growth_mib, 1)
    # Measured 12 to 30 MiB here (buffers and threads on first use); holding the video would be 200+.
    assert router_memory.growth_mib < 64, "the router streams both ways, it never holds the video"
