"""Prizm's images (`deploy/images/`): a router container and an espeak provider container on the host
network turn `healthy` through their own HEALTHCHECK (`prizm health-probe`), and a job goes through
the router to the provider; nothing is left behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from prizm_core.client import PrizmClient
from tests.support.docker_engine import leftovers, snapshot
from tests.support.images import PrizmImages, build_images, wait_healthy
from tests.support.media import wav_seconds_and_rms
from tests.support.mesh import wait_routable

# Cold, the images are built first (wheels, Debian's ffmpeg and espeak-ng: minutes); warm, found.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

CONFIG_DIR = "/etc/prizm"
# Not `prizm.service`: that label is `prizm service`'s own, and other tests list its containers.
TEST_LABEL = "dev.prizm.test"


def _free_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


@pytest.fixture(scope="module")
def images(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> PrizmImages:
    """The router and providers images, built unless the engine has them for these sources."""
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
    """A detached container on the host network, labelled so a leftover one is found."""
    return client.containers.run(
        image,
        command,
        name=name,
        detach=True,
        network_mode="host",
        labels={TEST_LABEL: name},
        environment=environment,
        volumes=volumes,
    )


def _config(folder: Path, provider_port: int) -> Path:
    """The router's config, naming the provider container's loopback address; readable by its user."""
    folder.chmod(0o755)
    config = folder / "router.yaml"
    config.write_text(f"providers:\n  - address: 127.0.0.1:{provider_port}\n", encoding="utf-8")
    config.chmod(0o644)
    return config


@pytest.fixture
def mesh(docker_client: docker.DockerClient, images: PrizmImages, tmp_path: Path) -> Iterator[str]:
    """An espeak provider container and a router container that routes to it; the router's address."""
    before = snapshot(docker_client)
    provider_port, router_port = _free_port(), _free_port()
    config = _config(tmp_path, provider_port)
    started: list[Container] = []
    try:
        started.append(
            _run(
                docker_client,
                images.providers,
                ["serve-provider", "espeak"],
                f"prizm-image-test-espeak-{provider_port}",
                environment={"PORT": str(provider_port)},
            )
        )
        started.append(
            _run(
                docker_client,
                images.router,
                ["router"],
                f"prizm-image-test-router-{router_port}",
                environment={"PORT": str(router_port), "PRIZM_CONFIG": f"{CONFIG_DIR}/{config.name}"},
                volumes={str(tmp_path): {"bind": CONFIG_DIR, "mode": "ro"}},
            )
        )
        for container, port in zip(started, (provider_port, router_port), strict=True):
            probes = wait_healthy(container)
            assert f"SERVING: the server at 127.0.0.1:{port}" in probes
            user = container.exec_run(["id", "-u"]).output
            assert isinstance(user, bytes) and user.strip() == b"10001", "runs as non-root"
        yield f"127.0.0.1:{router_port}"
    finally:
        for container in started:
            container.stop(timeout=10)
            container.remove()
    assert docker_client.containers.list(all=True, filters={"label": TEST_LABEL}) == []
    assert leftovers(docker_client, before) == []


async def test_a_job_goes_through_the_router_container_to_the_provider_container(mesh: str) -> None:
    await wait_routable(mesh, 1)
    async with PrizmClient(mesh) as client:
        result = await client.run("text-to-audio", "Hello from a container.", model="espeak-ng", timeout=30)
    (audio,) = result.outputs
    assert audio.provenance.provider_id == "espeak"
    seconds, rms = wav_seconds_and_rms(audio.data)
    assert 0.8 < seconds < 5.0 and rms > 500, (seconds, rms)
