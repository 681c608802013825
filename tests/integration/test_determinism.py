"""R29: the same input and options give the same bytes from every local provider, whatever ran before.

Each model runs one input twice through a real router with other jobs (other inputs, other options)
on the same provider in between; the two outputs must be identical and must hold real content.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.client import PrizmClient
from prizm_core.client.results import OutputAsset
from prizm_core.options import OptionValue
from provider_servers.sdk.audio import encode_wav
from tests.support.ffmedia import (
    audio_asset,
    image_asset,
    probe_bytes,
    sample_audio,
    sample_image,
    sample_video,
    video_asset,
)
from tests.support.media import wav_seconds_and_rms
from tests.support.mesh import client_of, recognised_words
from tests.support.processes import ServerProcess, router_for, start_provider
from tests.support.samples import COUNTING, OCR_LINES, open_image, page_png, red_blue_jpeg

Input = str | media_pb.Asset
Options = dict[str, OptionValue]
SPOKEN = "Determinism means the same words, spoken the same way, every single time."
PROVIDERS = ("piper", "pocketsphinx", "espeak", "ffmpeg", "imaging", "ocr", "synthetic")


@dataclass(frozen=True)
class Case:
    """One model: the input run twice, the jobs run between, and what the output must hold."""

    capability: str
    model: str
    first: Callable[[], Input]
    options: Options
    between: Sequence[tuple[Callable[[], Input], Options]]
    check: Callable[[OutputAsset], None]


@pytest.fixture(scope="module")
def local_router(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A router with every local provider as a static endpoint."""
    servers = [request.getfixturevalue(name) for name in PROVIDERS]
    with router_for(tmp_path_factory.mktemp("determinism"), *servers) as router:
        yield router


@pytest.fixture
async def client(local_router: ServerProcess) -> AsyncIterator[PrizmClient]:
    """A client of the router, once every provider is routable."""
    async with client_of(local_router.address, len(PROVIDERS)) as connected:
        yield connected


def _speech(output: OutputAsset) -> None:
    seconds, rms = wav_seconds_and_rms(output.data)
    assert 2.0 < seconds < 10.0 and rms > 500, (seconds, rms)


def _encoded_speech(codec: str) -> Callable[[OutputAsset], None]:
    """A check that the output is speech encoded with `codec`, 2 to 10 seconds long."""

    def check(output: OutputAsset) -> None:
        assert output.data is not None
        found = probe_bytes(output.data)
        assert found.audio["codec_name"] == codec and 2.0 < found.duration_s < 10.0, found.format

    return check


def _media(
    codec_type: str, codec: str, seconds: float, size: tuple[int, int] | None = None
) -> Callable[[OutputAsset], None]:
    """A check that the output holds `codec` media of about `seconds` (and `size`, for video)."""

    def check(output: OutputAsset) -> None:
        assert output.data is not None
        found = probe_bytes(output.data)
        stream = found.audio if codec_type == "audio" else found.video
        assert stream["codec_name"] == codec and abs(found.duration_s - seconds) < 0.15, found.format
        assert size is None or found.size == size

    return check


def _image(fmt: str, size: tuple[int, int]) -> Callable[[OutputAsset], None]:
    def check(output: OutputAsset) -> None:
        assert output.data is not None
        image = open_image(output.data)
        assert (image.format, image.size) == (fmt, size)
        colors = np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)
        assert len(colors) > 2, "a picture, not a blank"

    return check


def _text_with(expected: str, words: int) -> Callable[[OutputAsset], None]:
    def check(output: OutputAsset) -> None:
        assert recognised_words(expected, output.text()) >= words, output.text()

    return check


def _repeated(output: OutputAsset) -> None:
    assert output.data == (b"echo " * 200)[:1000]


def _noise() -> media_pb.Asset:
    """Three seconds of loud white noise: drags PocketSphinx's noise and cepstral estimates away."""
    samples = np.random.default_rng(1).normal(0, 8000, 48_000).clip(-32768, 32767).astype(np.int16)
    return audio_asset(encode_wav(samples, 16_000))


def _tone() -> media_pb.Asset:
    samples = (np.sin(np.arange(32_000) * 2 * np.pi * 440 / 16_000) * 20_000).astype(np.int16)
    return audio_asset(encode_wav(samples, 16_000))


@cache
def _espoken(text: str, voice: str, speed: int = 175) -> bytes:
    """`text` said by espeak-ng itself (not through the mesh), as a WAV file."""
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text]
    return subprocess.run(command, capture_output=True, check=True).stdout


def _spoken(text: str, voice: str = "en-us", speed: int = 175) -> Callable[[], media_pb.Asset]:
    return lambda: audio_asset(_espoken(text, voice, speed))


def _video() -> media_pb.Asset:
    return video_asset(sample_video())


def _audio() -> media_pb.Asset:
    return audio_asset(sample_audio())


def _picture() -> media_pb.Asset:
    return image_asset(sample_image())


def _jpeg() -> media_pb.Asset:
    return image_asset(red_blue_jpeg(), "image/jpeg")


def _page(lines: tuple[str, ...] = OCR_LINES, size: tuple[int, int] = (640, 360)) -> media_pb.Asset:
    return image_asset(page_png(lines, size, 28))


_SMALL = {"width": 160, "height": 120}

CASES = {
    "piper": Case(
        "text-to-audio",
        "en_US-joe-medium",
        lambda: SPOKEN,
        {"speed": 1.0},
        [(lambda: "Something else entirely.", {}), (lambda: SPOKEN, {"speed": 1.5, "volume": 0.5})],
        _speech,
    ),
    "pocketsphinx": Case(
        "audio-to-text",
        "en-us",
        _spoken(COUNTING),
        {},
        [
            (_noise, {}),
            (_spoken("Guten Morgen, wie geht es dir heute?", "de"), {}),
            (_spoken("Please call Stella and ask her to bring these things with her.", speed=300), {}),
            (_tone, {}),
        ],
        _text_with(COUNTING, 3),
    ),
    "espeak": Case(
        "text-to-audio",
        "espeak-ng",
        lambda: SPOKEN,
        {"language": "en-US", "speed": 1.0},
        [(lambda: "Guten Tag.", {"language": "de"}), (lambda: SPOKEN, {"speed": 1.7, "pitch": 80})],
        _speech,
    ),
    "espeak-ogg": Case(
        "text-to-audio",
        "espeak-ng",
        lambda: SPOKEN,
        {"format": "ogg"},
        [(lambda: "Guten Tag.", {"format": "ogg"}), (lambda: SPOKEN, {"format": "mp3"})],
        _encoded_speech("vorbis"),
    ),
    "extract-audio": Case(
        "video-to-audio",
        "extract-audio",
        _video,
        {"format": "ogg"},
        [(_video, {"format": "mp3"}), (_video, {"format": "ogg", "sample_rate": 22050})],
        _media("audio", "vorbis", 3.0),
    ),
    "convert-audio": Case(
        "audio-to-audio",
        "convert-audio",
        _audio,
        {"format": "ogg", "loudnorm": True, "duration_s": 2.0},
        [(_audio, {"format": "flac"}), (_audio, {"format": "ogg", "channels": 1})],
        _media("audio", "vorbis", 2.0),
    ),
    "transcode": Case(
        "video-to-video",
        "transcode",
        _video,
        {"format": "mkv", "width": 160},
        [(_video, {"format": "mp4", "width": 96}), (_video, {"format": "mkv", "duration_s": 1.0})],
        _media("video", "h264", 3.0, (160, 120)),
    ),
    "frames": Case(
        "video-to-image",
        "frames",
        _video,
        {"mode": "contact_sheet", "columns": 2, "rows": 1, "tile_width": 96},
        [(_video, {"at_s": 1.0}), (_video, {"mode": "contact_sheet", "columns": 1, "rows": 2})],
        _image("PNG", (2 * 96 + 3 * 4, 72 + 2 * 4)),
    ),
    "slideshow": Case(
        "image-to-video",
        "slideshow",
        _picture,
        {"format": "webm", "duration_s": 1.0, "fps": 10, **_SMALL},
        [(_jpeg, {"format": "webm", "duration_s": 0.5}), (_picture, {"format": "mp4", "duration_s": 1.0})],
        _media("video", "vp9", 1.0, (160, 120)),
    ),
    "title-card": Case(
        "text-to-video",
        "title-card",
        lambda: "Chapter one",
        {"format": "webm", "duration_s": 1.0, "fps": 10, **_SMALL},
        [
            (lambda: "Chapter two", {"format": "webm", "duration_s": 1.0}),
            (lambda: "Chapter one", {"duration_s": 1.0}),
        ],
        _media("video", "vp9", 1.0, (160, 120)),
    ),
    "pillow-edit": Case(
        "image-to-image",
        "pillow-edit",
        _jpeg,
        {"width": 200, "rotate": 30.0, "format": "webp"},
        [(_picture, {"filter": "grayscale"}), (_jpeg, {"width": 100, "format": "png"})],
        _image("WEBP", (250, 230)),
    ),
    "procedural-card": Case(
        "text-to-image",
        "procedural-card",
        lambda: "The same card",
        {"seed": 5, "width": 320, "height": 180},
        [(lambda: "Another card", {"seed": 5}), (lambda: "The same card", {"seed": 6})],
        _image("PNG", (320, 180)),
    ),
    "rapidocr-ppocrv4": Case(
        "image-to-text",
        "rapidocr-ppocrv4",
        _page,
        {"min_confidence": 0.5},
        [(lambda: _page(("Other words here",), (400, 120)), {}), (lambda: _page(OCR_LINES[:2]), {})],
        _text_with(" ".join(OCR_LINES), 10),
    ),
    "synthetic-v1": Case(
        "text-to-text",
        "synthetic-v1",
        lambda: "echo ",
        {"output_bytes": 1000, "events": 3},
        [(lambda: "other ", {"output_bytes": 5000}), (lambda: "echo ", {"output_bytes": 10})],
        _repeated,
    ),
}


def _shown(output: OutputAsset) -> str:
    """What a failure message shows of an output: its text, or its size, metadata and hash."""
    if output.kind == media_pb.MEDIA_KIND_TEXT:
        return repr(output.text())
    return f"{output.size_bytes} bytes {output.metadata} sha256 {output.sha256[:16]}"


async def _output(client: PrizmClient, case: Case, inputs: Input, options: Options) -> OutputAsset:
    result = await client.run(case.capability, inputs, model=case.model, options=options, timeout=60)
    (output,) = result.outputs
    assert output.data is not None and output.size_bytes == len(output.data)
    return output


@pytest.mark.parametrize("name", list(CASES))
async def test_the_same_input_twice_with_other_jobs_between_gives_the_same_bytes(
    client: PrizmClient, name: str
) -> None:
    case = CASES[name]
    first = await _output(client, case, case.first(), case.options)
    between = [await _output(client, case, make(), options) for make, options in case.between]
    again = await _output(client, case, case.first(), case.options)
    case.check(first)
    assert first.provenance.model_id == again.provenance.model_id == case.model
    assert all(output.sha256 != first.sha256 for output in between), "the jobs between must differ"
    assert (again.sha256, again.metadata) == (first.sha256, first.metadata), (_shown(again), _shown(first))
    assert again.data == first.data


@pytest.mark.parametrize("name", ["piper", "pocketsphinx"])
async def test_a_provider_started_afresh_gives_the_same_bytes(
    client: PrizmClient, tmp_path: Path, name: str
) -> None:
    """Nothing in the output comes from the process either: its clock, its first jobs, its seed."""
    case = CASES[name]
    for make, options in case.between:  # the long-running provider has done other work
        await _output(client, case, make(), options)
    served = await _output(client, case, case.first(), case.options)
    fresh = start_provider(name)
    try:
        with router_for(tmp_path, fresh) as router:
            async with client_of(router.address, 1) as fresh_client:
                again = await _output(fresh_client, case, case.first(), case.options)
    finally:
        fresh.stop()
    case.check(served)
    assert again.sha256 == served.sha256 and again.data == served.data, (_shown(again), _shown(served))
