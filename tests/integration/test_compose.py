"""`deploy/compose/docker-compose.yml` under Debian's docker-compose 1.29: `up -d` brings the router and
every local provider up `healthy` (polled: 1.29 has no `--wait`), a job goes through the router, and
`down` leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from prizm_core.client import PrizmClient
from tests.support.docker_engine import leftovers, snapshot
from tests.support.images import PrizmImages, build_images, wait_healthy
from tests.support.media import wav_seconds_and_rms
from tests.support.mesh import wait_routable

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "docker-compose.yml"
PROVIDERS = ("piper", "pocketsphinx", "espeak", "ffmpeg", "imaging", "ocr")
PROJECT_LABEL = "com.docker.compose.project"
_COMPOSE_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


@pytest.fixture(scope="module")
def images(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> PrizmImages:
    """The images the compose file names, built unless the engine has them for these sources."""
    return build_images(docker_client, tmp_path_factory.mktemp("images"))


def _compose(project: str, env: dict[str, str], *args: str) -> str:
    """`docker-compose -p PROJECT -f deploy/compose/docker-compose.yml ARGS`; fails the test when it fails."""
    program = shutil.which("docker-compose")
    if program is None:
        pytest.fail("docker-compose is missing; `scripts/docker_engine.sh start` installs it (as root)")
    # Debian's docker-compose runs on the system Python with its own packages: none of ours may leak in.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(
        [program, "-p", project, "-f", str(COMPOSE_FILE), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=_COMPOSE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"docker-compose {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-3000:]}"
        )
    return done.stdout


def _ports_and_config(folder: Path) -> dict[str, str]:
    """Free loopback ports for every server, and a router config naming the providers' ones."""
    ports = {name: _free_port() for name in ("router", *PROVIDERS)}
    folder.chmod(0o755)  # the router runs as an unprivileged user
    # piper over espeak for text-to-audio, as in deploy/compose/config/router.yaml.
    lines = [
        f"  - {{address: 127.0.0.1:{ports[name]}, priority: {10 if name == 'piper' else 0}}}\n"
        for name in PROVIDERS
    ]
    (folder / "router.yaml").write_text("providers:\n" + "".join(lines), encoding="utf-8")
    (folder / "router.yaml").chmod(0o644)
    env = {f"PRIZM_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    return {**env, "PRIZM_COMPOSE_CONFIG": str(folder)}


@pytest.fixture
def composed(docker_client: docker.DockerClient, images: PrizmImages, tmp_path: Path) -> Iterator[str]:
    """The compose project up and every container healthy; the router's address."""
    before = snapshot(docker_client)
    project = f"prizm-compose-test-{os.getpid()}"
    env = {
        **_ports_and_config(tmp_path),
        "PRIZM_ROUTER_IMAGE": images.router,
        "PRIZM_PROVIDERS_IMAGE": images.providers,
        "PRIZM_PIPER_IMAGE": images.piper,
        "PRIZM_OCR_IMAGE": images.ocr,
    }
    try:
        _compose(project, env, "up", "-d")
        containers = docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
        services = {c.labels["com.docker.compose.service"]: c.attrs["Config"]["Image"] for c in containers}
        assert sorted(services) == sorted(("router", *PROVIDERS))
        # The heavy providers run from their own images, the others from the light one.
        assert services["piper"] == images.piper and services["ocr"] == images.ocr
        assert all(services[name] == images.providers for name in PROVIDERS if name not in ("piper", "ocr"))
        for container in containers:
            wait_healthy(container)
        yield f"127.0.0.1:{env['PRIZM_ROUTER_PORT']}"
    finally:
        _compose(project, env, "down", "--volumes", "--timeout", "15")
    left = docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    assert [c.name for c in left] == []
    assert leftovers(docker_client, before) == []


async def test_up_serves_a_job_through_the_router_and_down_leaves_nothing(composed: str) -> None:
    await wait_routable(composed, len(PROVIDERS), timeout=120)
    async with PrizmClient(composed) as client:
        result = await client.run("text-to-audio", "Hello from Compose.", timeout=60)
    (audio,) = result.outputs
    assert audio.provenance.provider_id == "piper", "piper has the highest priority in the config"
    seconds, rms = wav_seconds_and_rms(audio.data)
    assert 0.5 < seconds < 5.0 and rms > 300, (seconds, rms)
