"""A Docker engine for the tests marked `docker`, and a check that they leave nothing behind.

The engine is the one `DOCKER_HOST` names when it answers, else the one `scripts/docker_engine.sh`
runs (started here when it is not running, and then stopped again at the end of the session). The
base image `prizm/base:bookworm` is built once. Tests skip only where no engine can be started:
none answers and this is not root. A pytest plugin: `tests/conftest.py` lists it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

__all__ = [
    "BASE_IMAGE",
    "ENGINE_SCRIPT",
    "SERVICE_LABEL",
    "EngineSnapshot",
    "docker_client",
    "leftovers",
    "no_docker_leftovers",
    "run_engine_script",
    "snapshot",
]

ENGINE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docker_engine.sh"
BASE_IMAGE = "prizm/base:bookworm"
SERVICE_LABEL = "prizm.service"
# A cold machine installs docker.io and debootstraps the base image first: minutes, not seconds.
DOCKER_TEST_TIMEOUT_S = 900
_COUNTERS = re.compile(r"\[\d+:\d+\]")


def run_engine_script(*args: str, env: dict[str, str] | None = None) -> str:
    """`scripts/docker_engine.sh ARGS`; its stdout. Fails the test with its words when it fails."""
    done = subprocess.run(
        [str(ENGINE_SCRIPT), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=DOCKER_TEST_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/docker_engine.sh {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _answering(host: str) -> docker.DockerClient | None:
    """A client of the engine at `host` (a DOCKER_HOST), or None when nothing answers there."""
    try:
        client = docker.DockerClient(base_url=host, timeout=30)
        client.ping()
    except DockerException:
        return None
    return client


def _script_host() -> str:
    """The DOCKER_HOST of the script's own engine (`export DOCKER_HOST=...`)."""
    return run_engine_script("env").strip().removeprefix("export DOCKER_HOST=")


def _needs_engine(item: pytest.Item) -> bool:
    """Tests marked `docker`, and the contract cases of the container provider (its example service
    runs in a container)."""
    return item.get_closest_marker("docker") is not None or "[container-" in item.nodeid


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Docker tests may start the engine and build images first: they get a longer timeout."""
    for item in items:
        if "[container-" in item.nodeid:
            item.add_marker(pytest.mark.docker)
        if _needs_engine(item) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(DOCKER_TEST_TIMEOUT_S))


@dataclass
class _Engine:
    """The session's engine: its DOCKER_HOST, whether this session started it, or why there is none."""

    host: str = ""
    started: bool = False
    problem: str = ""
    skip: bool = False
    given: str | None = None


_ENGINE = _Engine()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Readies the engine once, before any test runs, when a collected test needs it.

    Done here rather than in a fixture so that every user of the engine in the session (the
    `docker_client` fixture, and the container provider's contract environment, which uses an
    engine `DOCKER_HOST` names and stops only one it started itself) shares the one engine, which
    is stopped, by PID, only at the end of the session and only if this session started it.
    """
    if not any(_needs_engine(item) for item in session.items):
        return
    _ENGINE.given = os.environ.get("DOCKER_HOST")
    try:
        _ready_engine()
    except pytest.fail.Exception as exc:
        _ENGINE.problem = str(exc)


def _ready_engine() -> None:
    given = _ENGINE.given or ""
    host = given if given and _answering(given) else _script_host()
    client = _answering(host)
    if client is None:
        if os.geteuid() != 0:
            _ENGINE.skip = True
            _ENGINE.problem = (
                f"no Docker engine answers at {given or host}, and starting one needs root "
                "(as root: scripts/docker_engine.sh start)"
            )
            return
        run_engine_script("start")
        _ENGINE.started = True
        client = _answering(host)
        if client is None:
            pytest.fail(f"scripts/docker_engine.sh start ran, but nothing answers at {host}")
    client.close()
    # Routers and providers the tests start as processes use it too.
    os.environ["DOCKER_HOST"] = _ENGINE.host = host
    run_engine_script("base")


def pytest_sessionfinish() -> None:
    """Stops the engine if this session started it, and gives DOCKER_HOST back."""
    if _ENGINE.started:
        _ENGINE.started = False
        run_engine_script("stop")
    if _ENGINE.host:
        if _ENGINE.given is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = _ENGINE.given


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the session's engine (with the base image), for tests marked `docker`."""
    if _ENGINE.skip:
        pytest.skip(_ENGINE.problem)
    if _ENGINE.problem or not _ENGINE.host:
        pytest.fail(_ENGINE.problem or "no Docker engine was readied for this session")
    client = _answering(_ENGINE.host)
    if client is None:
        pytest.fail(f"the session's Docker engine stopped answering at {_ENGINE.host}")
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class EngineSnapshot:
    """What a test could leave behind, as it was before the test.

    Attributes:
        containers: IDs of the containers labelled `prizm.service`.
        networks: Names of the engine's networks.
        firewall: The machine's iptables and ip6tables rules, without counters; None where
            `iptables-save` is missing or refused.
    """

    containers: frozenset[str]
    networks: frozenset[str]
    firewall: tuple[str, ...] | None


def _firewall() -> tuple[str, ...] | None:
    """The iptables and ip6tables rules (comments and packet counters left out)."""
    rules: list[str] = []
    for command in ("iptables-save", "ip6tables-save"):
        program = shutil.which(command)
        if program is None:
            return None
        done = subprocess.run([program], capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            return None
        rules += [
            f"{command}: {_COUNTERS.sub('', line).strip()}"
            for line in done.stdout.splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return tuple(rules)


def snapshot(client: docker.DockerClient) -> EngineSnapshot:
    """The engine's labelled containers and networks, and the machine's firewall, now."""
    return EngineSnapshot(
        containers=frozenset(
            str(c.id) for c in client.containers.list(all=True, filters={"label": SERVICE_LABEL})
        ),
        networks=frozenset(str(network.name) for network in client.networks.list()),
        firewall=_firewall(),
    )


def leftovers(client: docker.DockerClient, before: EngineSnapshot) -> list[str]:
    """What appeared since `before` and is still there: labelled containers, networks, firewall rules."""
    after = snapshot(client)
    found = [
        f"container {container.name} ({container.status}), "
        f"{SERVICE_LABEL}={container.labels.get(SERVICE_LABEL, '')}"
        for container in client.containers.list(all=True, filters={"label": SERVICE_LABEL})
        if container.id not in before.containers
    ]
    found += [f"network {name}" for name in sorted(after.networks - before.networks)]
    if before.firewall is not None and after.firewall is not None:
        added = Counter(after.firewall) - Counter(before.firewall)
        removed = Counter(before.firewall) - Counter(after.firewall)
        found += [f"firewall rule added: {rule}" for rule in sorted(added)]
        found += [f"firewall rule removed: {rule}" for rule in sorted(removed)]
    return found


@pytest.fixture
def no_docker_leftovers(docker_client: docker.DockerClient) -> Iterator[EngineSnapshot]:
    """Fails the test when it leaves a `prizm.service` container, a network or a firewall rule."""
    before = snapshot(docker_client)
    yield before
    left = leftovers(docker_client, before)
    assert not left, f"left behind: {'; '.join(left)}"
