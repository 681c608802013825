"""Role conversion: a talking video asked for as text goes through ffmpeg, then pocketsphinx."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from tests.integration.test_cli import prizm
from tests.support.ffmedia import make_file
from tests.support.media import SENTENCE, speech_wav
from tests.support.mesh import client_of, recognised_words, wait_routable
from tests.support.processes import ServerProcess, router_for


@pytest.fixture(scope="module")
def media_router(
    tmp_path_factory: pytest.TempPathFactory, ffmpeg: ServerProcess, pocketsphinx: ServerProcess
) -> Iterator[ServerProcess]:
    """A router with the ffmpeg and pocketsphinx providers."""
    with router_for(tmp_path_factory.mktemp("conversion"), ffmpeg, pocketsphinx) as router:
        yield router


@pytest.fixture
async def client(media_router: ServerProcess) -> AsyncIterator[PrizmClient]:
    """A client of the router, once both providers are routable."""
    async with client_of(media_router.address, 2) as connected:
        yield connected


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An mp4 (H.264 and AAC) of a plain picture over the spoken sentence."""
    folder = tmp_path_factory.mktemp("talk")
    speech = folder / "speech.wav"
    speech.write_bytes(speech_wav())
    video = folder / "talk.mp4"
    make_file(
        video, "-f", "lavfi", "-i", "color=c=navy:size=320x240:rate=25", "-i", str(speech),
        "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
    )  # fmt: skip
    return video


def _conversion_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("prizm-convert-*")}


async def test_a_video_asked_for_as_text_is_its_words(client: PrizmClient, talking_video: Path) -> None:
    before = _conversion_folders()
    conversion = await client.convert(talking_video, "text", timeout=60)
    assert conversion.capabilities == ["video-to-audio", "audio-to-text"]
    assert [step.outputs[0].provenance.provider_id for step in conversion.steps] == ["ffmpeg", "pocketsphinx"]
    transcript = conversion.result.outputs[0].text()
    assert recognised_words(SENTENCE, transcript) >= 6, transcript
    assert _conversion_folders() == before, "the intermediate soundtrack is deleted"


async def test_a_conversion_the_mesh_cannot_make_says_so(client: PrizmClient, tmp_path: Path) -> None:
    speech = tmp_path / "speech.wav"
    await asyncio.to_thread(speech.write_bytes, speech_wav())
    with pytest.raises(PrizmError) as failure:
        await client.convert(speech, "3d", timeout=10)
    assert (failure.value.code, failure.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CONVERSION_PATH",
    )


async def test_prizm_convert_prints_the_words_and_the_way(
    media_router: ServerProcess, talking_video: Path
) -> None:
    await wait_routable(media_router.address, 2)
    done = await asyncio.to_thread(
        prizm, "convert", str(talking_video), "--to", "text", router=media_router.address
    )
    assert done.returncode == 0, done.stderr
    assert recognised_words(SENTENCE, done.stdout) >= 6, done.stdout
    assert "via video-to-audio → audio-to-text" in done.stderr


async def test_an_mp3_asked_for_as_text_is_planned_by_its_mime_type(
    client: PrizmClient, tmp_path: Path
) -> None:
    speech = tmp_path / "speech.wav"
    await asyncio.to_thread(speech.write_bytes, speech_wav())
    song = tmp_path / "speech.mp3"
    await asyncio.to_thread(make_file, song, "-i", str(speech), "-c:a", "libmp3lame", "-b:a", "64k")
    (recogniser,) = await client.list_models("audio-to-text")
    conversion = await client.convert(str(song), "text", timeout=60)  # a str: a file
    # Straight to the recogniser when it takes mp3; through a conversion to a type it takes otherwise.
    takes_mp3 = not recogniser.input_mime_types or "audio/mpeg" in recogniser.input_mime_types
    expected = ["audio-to-text"] if takes_mp3 else ["audio-to-audio", "audio-to-text"]
    assert conversion.capabilities == expected
    assert conversion.steps[-1].outputs[0].provenance.model_id == recogniser.id
    transcript = conversion.result.outputs[0].text()
    assert recognised_words(SENTENCE, transcript) >= 6, transcript
