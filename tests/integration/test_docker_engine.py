"""The Docker engine of the tests and CI: the script's engine, the base image, and the leftovers check."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.docker_engine import (
    BASE_IMAGE,
    ENGINE_SCRIPT,
    SERVICE_LABEL,
    EngineSnapshot,
    leftovers,
    run_engine_script,
)

pytestmark = pytest.mark.docker

SAFE_FLAGS = ("--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false")


@pytest.fixture
def engine_home() -> Iterator[Path]:
    """A PRIZM_DOCKER_HOME of its own (short: socket paths have a limit), its engine stopped after."""
    if os.geteuid() != 0:
        pytest.skip("starting a Docker engine needs root")
    home = Path(tempfile.mkdtemp(prefix="prizm-engine-", dir="/tmp"))
    try:
        yield home
    finally:
        run_engine_script("stop", env={"PRIZM_DOCKER_HOME": str(home)})
        shutil.rmtree(home, ignore_errors=True)


def _engine_pid(home: Path) -> int:
    return int((home / "dockerd.pid").read_text())


def test_the_script_runs_an_engine_with_the_safe_flags_and_stops_only_its_own(
    engine_home: Path, docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot
) -> None:
    env = {"PRIZM_DOCKER_HOME": str(engine_home)}
    host = f"unix://{engine_home}/docker.sock"
    assert run_engine_script("start", env=env).strip() == f"DOCKER_HOST={host}"
    pid = _engine_pid(engine_home)
    flags = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert set(SAFE_FLAGS) <= set(flags)
    assert flags[flags.index("--data-root") + 1] == f"{engine_home}/data"
    # Started twice, it is the same engine.
    assert run_engine_script("start", env=env).strip() == f"DOCKER_HOST={host}"
    assert _engine_pid(engine_home) == pid
    assert run_engine_script("env", env=env).strip() == f"export DOCKER_HOST={host}"
    own = docker.DockerClient(base_url=host, timeout=30)
    try:
        # No bridge: containers can only use the host's network (or none).
        assert sorted(str(network.name) for network in own.networks.list()) == ["host", "none"]
        assert own.info()["DockerRootDir"] == f"{engine_home}/data"
    finally:
        own.close()
    run_engine_script("stop", env=env)
    assert not Path(f"/proc/{pid}").exists()
    status = subprocess.run(
        [str(ENGINE_SCRIPT), "status"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (status.returncode, status.stdout.strip()) == (1, f"not running: nothing answers at {host}")
    # The session's engine, which the script did not start under this home, still answers.
    assert docker_client.ping()


def test_the_base_image_runs_python_on_the_host_network(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot
) -> None:
    image = docker_client.images.get(BASE_IMAGE)
    assert "debootstrap --variant=minbase" in image.labels["prizm.base.recipe"]
    script = "import os, sys, venv; print(sys.version_info[:2]); print(os.readlink('/proc/self/ns/net'))"
    output = docker_client.containers.run(
        BASE_IMAGE,
        ["python3", "-c", script],
        network_mode="host",
        labels={SERVICE_LABEL: "engine-test"},
        remove=True,
    )
    version, namespace = output.decode().split("\n")[:2]
    assert version == "(3, 11)"
    # The same network namespace as this process: the host's network, no bridge.
    assert namespace == os.readlink("/proc/self/ns/net")


def test_leftovers_names_a_labelled_container_until_it_is_removed(
    docker_client: docker.DockerClient, no_docker_leftovers: EngineSnapshot
) -> None:
    container = docker_client.containers.run(
        BASE_IMAGE,
        ["sleep", "60"],
        network_mode="host",
        labels={SERVICE_LABEL: "leftover-test"},
        name="prizm-leftover-test",
        detach=True,
    )
    try:
        (found,) = leftovers(docker_client, no_docker_leftovers)
        assert found.startswith("container prizm-leftover-test (")
        assert found.endswith(f"), {SERVICE_LABEL}=leftover-test")
    finally:
        container.remove(force=True)
    assert leftovers(docker_client, no_docker_leftovers) == []
