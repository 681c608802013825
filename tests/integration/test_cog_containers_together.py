"""Two Cog containers started at the same moment by one router both serve.

cog 0.23's server binds its worker's socket in the abstract namespace as `coglet-<its PID>-<slot>`
until the worker connects; every Cog container's server is PID 1 and, on the host network, they
share that namespace, so two starting together clashed ("failed to create transport: Address
already in use") and one ended SETUP_FAILED. The container provider now starts Cog containers on a
host one after another (`provider_servers/container/cog_turns.py`).
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.services.lifecycle import ServiceContainer
from prizm_core.services.manifest import load_manifest
from tests.support.docker_engine import EngineSnapshot, leftovers, snapshot
from tests.support.mesh import wait_until
from tests.support.processes import ServerProcess, start_router

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

SERVICES = Path(__file__).resolve().parents[1] / "fixtures" / "cog-services"
# Two manifests of the tone predictor, one image: the folder under SERVICES and the service's name.
TWINS = {"tone": "cog-tone", "tone-twin": "cog-tone-twin"}
RATE = 8000  # the tone predictor's frames a second
# The image is built before the router starts; each Cog server then needs a few seconds.
START_TIMEOUT_S = 120.0


def _ours(client: docker.DockerClient) -> list[str]:
    """The names of the twins' containers, running or not."""
    found = client.containers.list(all=True, filters={"label": "prizm.service"})
    return sorted(str(c.name) for c in found if c.labels["prizm.service"] in TWINS.values())


@pytest.fixture
def before(docker_client: docker.DockerClient) -> EngineSnapshot:
    """The engine before the router starts, with the twins' one image built (so that neither
    container waits on a build and both start at the same moment)."""
    assert _ours(docker_client) == [], "a tone container is left over"
    manifest = load_manifest(SERVICES / "tone" / "prizm.service.yml")
    ServiceContainer(manifest, client=docker_client).ensure_image(print)
    return snapshot(docker_client)


@pytest.fixture
def router(before: EngineSnapshot, tmp_path: Path) -> Iterator[ServerProcess]:
    """A router whose config lists both tone services under `services:`."""
    config = tmp_path / "router.yaml"
    entries = [{"manifest": str(SERVICES / folder / "prizm.service.yml")} for folder in TWINS]
    config.write_text(json.dumps({"services": entries, "startup_wait_s": 0}))  # JSON is YAML
    server = start_router(config)
    try:
        yield server
    finally:
        server.stop()


async def _settled(client: PrizmClient) -> dict[str, router_pb.ProviderEndpoint]:
    """The twins' endpoints once both serve, or once one says its model's setup failed."""
    endpoints: dict[str, router_pb.ProviderEndpoint] = {}

    async def settled() -> bool:
        nonlocal endpoints
        listed = await client.list_providers()
        endpoints = {e.provider.id: e for e in listed if e.provider.id in TWINS.values()}
        if any("SETUP_FAILED" in e.detail for e in endpoints.values()):
            return True
        serving = [e for e in endpoints.values() if e.state == router_pb.ENDPOINT_STATE_SERVING]
        return len(serving) == len(TWINS)

    await wait_until(settled, START_TIMEOUT_S, interval=0.1)
    return endpoints


async def test_two_cog_services_started_together_both_serve_and_run_a_job(
    router: ServerProcess, docker_client: docker.DockerClient, before: EngineSnapshot
) -> None:
    async with PrizmClient(router.address) as client:
        endpoints = await _settled(client)
        states = {name: (e.state, e.detail) for name, e in endpoints.items()}
        assert all(state == router_pb.ENDPOINT_STATE_SERVING for state, _ in states.values()), states
        assert sorted(states) == sorted(TWINS.values())
        for name in TWINS.values():
            text = f"a tone from {name}"
            result = await client.run("text-to-audio", text, model=name, options={"steps": 1}, timeout=60)
            [output] = result.outputs
            assert output.provenance.provider_id == name
            assert output.data is not None  # collected in memory: no sink was given
            with wave.open(io.BytesIO(output.data)) as audio:
                assert audio.getframerate() == RATE
                assert audio.getnframes() == round(len(text) * 0.01 * RATE)
    containers = [docker_client.containers.get(f"prizm-{name}") for name in TWINS.values()]
    for container in containers:
        log = container.logs().decode(errors="replace")
        assert "Address already in use" not in log, log[-2000:]
    # One after another: the later container was created only once the earlier Cog server's setup
    # had completed (it left STARTING).
    first, second = sorted(containers, key=_created)
    assert _created(second) > _setup_completed(first)
    assert router.stop() == 0
    assert _ours(docker_client) == []
    assert leftovers(docker_client, before) == []


def _created(container: Container) -> datetime:
    return datetime.fromisoformat(str(container.attrs["Created"]))


def _setup_completed(container: Container) -> datetime:
    """When the Cog server logged that its model's setup completed."""
    for line in container.logs(timestamps=True).decode(errors="replace").splitlines():
        stamp, _, record = line.partition(" ")
        if "Setup complete" in record:
            return datetime.fromisoformat(stamp)
    raise AssertionError(f"{container.name} never completed its setup")


def test_the_twins_share_one_image() -> None:
    """The twin adds no build: the tone service's image and build, under another name."""
    tone, twin = (load_manifest(SERVICES / folder / "prizm.service.yml") for folder in TWINS)
    assert (twin.image, twin.build) == (tone.image, tone.build)
    assert (tone.name, twin.name) == tuple(TWINS.values())
