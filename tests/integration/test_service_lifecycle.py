"""A container service's life on a real Docker engine: build, start, health, status, logs, stop.

The service is `python3 -m http.server` in an image built from the local base image; the CLI runs
as a subprocess, as a person would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
import httpx
import pytest
import yaml

from prizm_core.errors import PrizmError, Reason
from prizm_core.services.gpu import engine_has_nvidia, host_gpus
from prizm_core.services.lifecycle import ServiceContainer
from prizm_core.services.manifest import MANIFEST_FILE, ServiceManifest, load_manifest
from tests.support.docker_engine import BASE_IMAGE, EngineSnapshot

ROOT = Path(__file__).resolve().parents[2]
# What the service serves: the test reads it back through the container's port.
PAGE = f"served from a prizm service {uuid.uuid4().hex}\n"
SERVE = 'exec python3 -m http.server --bind 127.0.0.1 "$PORT"'


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _manifest_folder(folder: Path, **fields: Any) -> Path:
    """A service folder: the Dockerfile (base image + the page) and a manifest of `fields`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    base = fields.pop("base", BASE_IMAGE)
    (folder / "Dockerfile").write_text(
        f"FROM {base}\nWORKDIR /srv\nCOPY index.html /srv/\n", encoding="utf-8"
    )
    manifest = {
        "version": "0.1.0",
        "build": {"context": ".", "dockerfile": "Dockerfile"},
        "port_env": "PORT",
        "command": ["sh", "-c", SERVE],
        "health": {"http": "/", "interval_s": 0.2, "start_timeout_s": 60},
        "capabilities": ["text-to-text"],
        "adapter": {"kind": "cog"},
        "requirements": {"memory": "256m", "cpus": 0.5},
        **fields,
    }
    (folder / MANIFEST_FILE).write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return folder


def _prizm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`prizm ARGS` as a subprocess, with the session's DOCKER_HOST."""
    return subprocess.run(
        [sys.executable, "-m", "prizm_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def _image_exists(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient) -> Iterator[str]:
    """The test service's image tag; removed (with what it built) at the end."""
    tag = f"prizm-test/http-service:{uuid.uuid4().hex[:8]}"
    yield tag
    if _image_exists(docker_client, tag):
        docker_client.images.remove(tag, force=True)


@pytest.fixture
def http_service(tmp_path: Path, image: str) -> ServiceManifest:
    return load_manifest(
        _manifest_folder(tmp_path / "svc", name=_name("t-http"), image=image) / MANIFEST_FILE
    )


@pytest.mark.docker
def test_a_service_is_built_started_healthy_and_stopped(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot, http_service: ServiceManifest
) -> None:
    service = ServiceContainer(http_service, client=docker_client)
    said: list[str] = []
    assert service.ensure_image(said.append) == http_service.image
    assert _image_exists(docker_client, http_service.image)
    service.start(said.append)
    try:
        service.wait_healthy(None, said.append)
        assert httpx.get(f"{service.url}/index.html", trust_env=False, timeout=10).text == PAGE
        state = service.status()
        assert (state.state, state.healthy, state.port, state.name) == (
            "running",
            True,
            service.port,
            http_service.name,
        )
        assert state.image == http_service.image
        container = docker_client.containers.get(f"prizm-{http_service.name}")
        host = container.attrs["HostConfig"]
        assert (host["NetworkMode"], host["Memory"], host["NanoCpus"]) == ("host", 256 << 20, 500_000_000)
        assert container.labels["prizm.service"] == http_service.name
        assert container.labels["prizm.version"] == "0.1.0"
        assert f"PORT={service.port}" in container.attrs["Config"]["Env"]
        assert "GET /index.html" in service.logs()
        assert len(service.logs(tail=1).strip().splitlines()) == 1
    finally:
        service.stop(timeout_s=2)
    assert service.status().state == "missing"
    assert any(line.startswith(f"starting prizm-{http_service.name}") for line in said)


@pytest.mark.docker
def test_the_cli_runs_a_service_up_status_logs_down(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot, http_service: ServiceManifest
) -> None:
    folder = str(http_service.directory)
    up = _prizm("service", "up", folder, "--timeout", "120")
    assert up.returncode == 0, up.stderr
    url = up.stdout.strip().splitlines()[-1]
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/index.html", trust_env=False, timeout=10).text == PAGE
        status = _prizm("service", "status", http_service.name, "--json")
        assert status.returncode == 0, status.stderr
        [state] = json.loads(status.stdout)
        assert (state["state"], state["healthy"], state["image"]) == ("running", True, http_service.image)
        assert url.endswith(f":{state['port']}")
        table = _prizm("service", "status")
        assert http_service.name in table.stdout and "healthy" in table.stdout
        logs = _prizm("service", "logs", "-n", "50", folder)
        assert logs.returncode == 0 and '"GET / HTTP/1.1" 200' in logs.stdout + logs.stderr
    finally:
        down = _prizm("service", "down", http_service.name, "--timeout", "2")
    assert down.returncode == 0 and "stopped and removed" in down.stderr
    gone = _prizm("service", "status", http_service.name, "--json")
    assert gone.returncode == 1 and json.loads(gone.stdout)[0]["state"] == "missing"
    assert not docker_client.containers.list(all=True, filters={"name": f"prizm-{http_service.name}"})


@pytest.mark.docker
def test_a_container_that_exits_fails_fast_with_its_last_lines(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot, tmp_path: Path, image: str
) -> None:
    command = ["sh", "-c", "echo model weights missing >&2; exit 3"]
    folder = _manifest_folder(tmp_path / "dies", name=_name("t-dies"), image=image, command=command)
    service = ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client)
    service.start(lambda _: None)
    started = time.monotonic()
    try:
        with pytest.raises(PrizmError) as caught:
            service.wait_healthy(None, lambda _: None)
        assert time.monotonic() - started < 30  # not the 60 s start timeout
        assert (caught.value.code, caught.value.reason) == (
            grpc.StatusCode.UNAVAILABLE,
            Reason.SERVICE_FAILED,
        )
        assert "exited with code 3" in caught.value.message
        assert "model weights missing" in caught.value.message
        assert service.status().state == "exited"
    finally:
        service.stop(timeout_s=0)


@pytest.mark.docker
def test_a_service_never_healthy_times_out_with_a_clear_message(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot, tmp_path: Path, image: str
) -> None:
    folder = _manifest_folder(tmp_path / "mute", name=_name("t-mute"), image=image, command=["sleep", "60"])
    service = ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client)
    service.start(lambda _: None)
    waits: list[str] = []
    try:
        with pytest.raises(PrizmError) as caught:
            service.wait_healthy(1.5, waits.append)
    finally:
        service.stop(timeout_s=0)
    assert caught.value.reason == Reason.SERVICE_FAILED
    assert f"was not healthy (GET / on {service.address}) within 1.5 s" in caught.value.message
    assert waits and waits[0].startswith(f"waiting for GET / on {service.address}")


@pytest.mark.docker
def test_a_gpu_service_is_refused_before_anything_is_made(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot, tmp_path: Path
) -> None:
    if host_gpus() or engine_has_nvidia(docker_client):
        pytest.skip("this machine has a GPU: NO_GPU cannot be shown here")
    tag = f"prizm-test/gpu-service:{uuid.uuid4().hex[:8]}"
    name = _name("t-gpu")
    folder = _manifest_folder(
        tmp_path / "gpu", name=name, image=tag, requirements={"gpus": 1, "memory": "1g"}
    )
    service = ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client)
    for step in (service.ensure_image, service.start):
        with pytest.raises(PrizmError) as caught:
            step(lambda _: None)
        assert (caught.value.code, caught.value.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.NO_GPU,
        )
        assert f"service {name} needs 1 GPU(s), and this machine has none" in caught.value.message
    cli = _prizm("service", "up", str(folder))
    assert cli.returncode == 3, cli.stderr
    assert "FAILED_PRECONDITION NO_GPU" in cli.stderr and "NVIDIA Container Toolkit" in cli.stderr
    assert not _image_exists(docker_client, tag)
    assert not docker_client.containers.list(all=True, filters={"name": f"prizm-{name}"})


@pytest.mark.docker
def test_a_missing_local_base_image_names_the_script_that_builds_it(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    tag = f"prizm-test/no-base:{uuid.uuid4().hex[:8]}"
    folder = _manifest_folder(
        tmp_path / "nobase", name=_name("t-nobase"), image=tag, base="prizm/base:nowhere"
    )
    service = ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client)
    with pytest.raises(PrizmError) as caught:
        service.ensure_image(lambda _: None)
    assert caught.value.reason == Reason.SERVICE_FAILED
    assert "base image prizm/base:nowhere is missing" in caught.value.message
    assert "scripts/docker_engine.sh base" in caught.value.message
    assert not _image_exists(docker_client, tag)


@pytest.mark.docker
def test_a_compose_service_is_built_from_its_compose_file(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    tag = f"prizm-test/compose-built:{uuid.uuid4().hex[:8]}"
    folder = _manifest_folder(tmp_path / "compose", name=_name("t-compose"), image=tag)
    (folder / "app").mkdir()
    (folder / "Dockerfile").rename(folder / "app" / "Dockerfile.svc")
    (folder / "index.html").rename(folder / "app" / "index.html")
    compose = {
        "services": {"web": {"build": {"context": "app", "dockerfile": "Dockerfile.svc", "args": ["X=1"]}}}
    }
    (folder / "docker-compose.yml").write_text(yaml.safe_dump(compose), encoding="utf-8")
    text = (folder / MANIFEST_FILE).read_text(encoding="utf-8")
    text = text.replace(
        "  context: .\n  dockerfile: Dockerfile\n", "  compose: {file: docker-compose.yml, service: web}\n"
    )
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
    said: list[str] = []
    try:
        ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client).ensure_image(
            said.append
        )
        assert _image_exists(docker_client, tag)
        assert any("COPY index.html /srv/" in line for line in said)
    finally:
        if _image_exists(docker_client, tag):
            docker_client.images.remove(tag, force=True)


@pytest.mark.docker
def test_a_failing_build_step_fails_the_service_with_its_output(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    tag = f"prizm-test/bad-build:{uuid.uuid4().hex[:8]}"
    folder = _manifest_folder(tmp_path / "badbuild", name=_name("t-badbuild"), image=tag)
    with (folder / "Dockerfile").open("a", encoding="utf-8") as dockerfile:
        dockerfile.write("RUN echo no-such-wheel-here && false\n")
    with pytest.raises(PrizmError) as caught:
        ServiceContainer(load_manifest(folder / MANIFEST_FILE), client=docker_client).ensure_image(
            lambda _: None
        )
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.UNAVAILABLE, Reason.SERVICE_FAILED)
    assert f"building {tag} failed" in caught.value.message
    assert "returned a non-zero code: 1" in caught.value.message
    assert "no-such-wheel-here" in caught.value.message
    assert not _image_exists(docker_client, tag)


def test_the_cli_refuses_a_bad_manifest_naming_file_line_and_field(tmp_path: Path) -> None:
    folder = _manifest_folder(tmp_path / "bad", name="t-bad", image="prizm-test/bad:1")
    path = folder / MANIFEST_FILE
    text = path.read_text(encoding="utf-8").replace("http: /", "http: no-slash")
    path.write_text(text, encoding="utf-8")
    line = 1 + text.splitlines().index("  http: no-slash")
    done = _prizm("service", "up", str(path))
    assert done.returncode == 2
    assert f"{path}:{line}: health.http: String should match pattern '^/'" in done.stderr
