"""The real container services end to end through the router: text to speech in the piper
container (a Cog model), that speech back to text in the pocketsphinx container (plain HTTP), both
listed under `services:`; both gone when the router stops, with no network or iptables rule left."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from prizm_core.client import PrizmClient
from tests.support.docker_engine import EngineSnapshot, leftovers, snapshot
from tests.support.media import wav_seconds_and_rms
from tests.support.mesh import recognised_words, wait_routable
from tests.support.processes import ServerProcess, start_router

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]

SERVICES = Path(__file__).resolve().parents[2] / "services"
NAMES = ("piper-tts", "pocketsphinx-stt")
SENTENCE = "the quick brown fox jumps over the lazy dog"
# Cold, each image is built first (wheels installed on the base image: minutes); warm, it is found.
START_TIMEOUT_S = 1200.0


def _ours(client: docker.DockerClient) -> list[str]:
    """The names of the containers of the two services, running or not."""
    found = client.containers.list(all=True, filters={"label": "prizm.service"})
    return sorted(c.name or "" for c in found if c.labels["prizm.service"] in NAMES)


@pytest.fixture(scope="module")
def router(
    docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, EngineSnapshot]]:
    """A router whose config lists both services (paths relative to the config's folder), and what
    the engine and the firewall held before it started."""
    assert _ours(docker_client) == [], "a service container is left over"
    before = snapshot(docker_client)
    folder = tmp_path_factory.mktemp("services")
    (folder / "services").symlink_to(SERVICES)
    config = folder / "router.yaml"
    entries = [{"manifest": f"services/{name}/prizm.service.yml"} for name in ("piper", "pocketsphinx")]
    config.write_text(json.dumps({"services": entries}))  # JSON is YAML
    server = start_router(config)
    yield server, before
    server.stop()


async def _speak_and_listen(router: str) -> tuple[bytes, str]:
    async with PrizmClient(router) as client:
        speech = await client.run("text-to-audio", SENTENCE, timeout=120)
        (audio,) = speech.outputs
        assert audio.provenance.provider_id == "piper-tts"
        assert audio.data is not None
        heard = await client.run("audio-to-text", audio.to_asset(), timeout=120)
    (transcript,) = heard.outputs
    assert transcript.provenance.provider_id == "pocketsphinx-stt"
    assert transcript.provenance.input_sha256 == (audio.sha256,)
    return audio.data, transcript.text()


def test_speech_made_in_one_container_is_heard_in_the_other(
    router: tuple[ServerProcess, EngineSnapshot], docker_client: docker.DockerClient
) -> None:
    server, before = router
    started = time.monotonic()
    endpoints = asyncio.run(wait_routable(server.address, 2, timeout=START_TIMEOUT_S))
    print(f"both services serving {time.monotonic() - started:.1f} s after the router listened")
    assert sorted(str(e.provider.id) for e in endpoints) == sorted(NAMES)
    assert _ours(docker_client) == ["prizm-piper-tts", "prizm-pocketsphinx-stt"]

    wav, text = asyncio.run(_speak_and_listen(server.address))
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    seconds, rms = wav_seconds_and_rms(wav)
    assert 1.5 < seconds < 10.0 and rms > 100, (seconds, rms)
    assert recognised_words(SENTENCE, text) >= 6, text

    assert server.stop() == 0
    assert _ours(docker_client) == []
    assert leftovers(docker_client, before) == []
