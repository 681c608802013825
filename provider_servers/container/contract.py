"""The contract cases of the container provider: its example service (`example/`) in a container.

It needs a Docker engine with the local base image `prizm/base:bookworm`: the one `DOCKER_HOST`
names, else, in a source checkout, the one `scripts/docker_engine.sh` runs (started, and its base
image built, for the suite when it is not running, and stopped again after).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import docker

from provider_servers.container.provider import MANIFEST_ENV
from provider_servers.contract import Case, text_input
from provider_servers.sdk import Capability

__all__ = ["EXAMPLE", "cases", "environment"]

EXAMPLE = Path(__file__).with_name("example")
_ENGINE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docker_engine.sh"
_BASE_IMAGE = "prizm/base:bookworm"
# A cold machine installs the engine and debootstraps the base image first: minutes.
_SCRIPT_TIMEOUT_S = 900
_SAMPLE = "Prizm runs containers."


def _answers(host: str) -> bool:
    try:
        with contextlib.closing(docker.DockerClient(base_url=host, timeout=10)) as client:
            client.ping()
            client.images.get(_BASE_IMAGE)
    except docker.errors.DockerException:
        return False
    return True


def _script(*args: str, host: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DOCKER_HOST": host} if host else dict(os.environ)
    command = [str(_ENGINE_SCRIPT), *args]
    return subprocess.run(
        command, env=environ, capture_output=True, text=True, timeout=_SCRIPT_TIMEOUT_S, check=check
    )


@contextlib.contextmanager
def _engine() -> Iterator[str]:
    """The DOCKER_HOST of an engine that has the base image."""
    given = os.environ.get("DOCKER_HOST", "")
    if given and _answers(given):
        yield given
        return
    if not _ENGINE_SCRIPT.is_file():
        raise RuntimeError(
            f"the container provider needs a Docker engine with {_BASE_IMAGE}: set DOCKER_HOST"
        )
    host = _script("env").stdout.strip().removeprefix("export DOCKER_HOST=")
    started = _script("status", check=False).returncode != 0
    if started:
        _script("start")
    try:
        _script("base", host=host)
        yield host
    finally:
        if started:
            _script("stop")


@contextlib.contextmanager
def environment() -> Iterator[dict[str, str]]:
    """The example service, named `container` as the suite knows the provider, on an engine."""
    with _engine() as host, tempfile.TemporaryDirectory(prefix="prizm-container-") as folder:
        service = Path(folder) / "example"
        shutil.copytree(EXAMPLE, service)
        manifest = service / "prizm.service.yml"
        manifest.write_text(manifest.read_text().replace("name: shout", "name: container", 1))
        yield {MANIFEST_ENV: str(manifest), "DOCKER_HOST": host}


def _check_shouted(text: str) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        assert data.decode("utf-8") == text.upper(), data

    return check


def cases() -> list[Case]:
    """Both models of the example: `shout` answers at once, `shout-slowly` is a job, cancelled upstream."""
    return [
        Case(
            capability=Capability.TEXT_TO_TEXT,
            model="shout",
            sample=lambda: text_input(_SAMPLE),
            check=_check_shouted(_SAMPLE),
            long_input=lambda: text_input("answered at once"),
        ),
        Case(
            capability=Capability.TEXT_TO_TEXT,
            model="shout-slowly",
            sample=lambda: text_input(_SAMPLE),
            check=_check_shouted(_SAMPLE),
            long_input=lambda: text_input("cancelled half way"),
            options={"seconds": 0.3},
            long_options={"seconds": 20},
        ),
    ]
