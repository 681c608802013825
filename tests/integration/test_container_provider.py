"""A container service behind the router: routed, killed (NOT_SERVING within 2 s, not routed),
restarted with StartService (routable again), and removed when the router stops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import grpc
import httpx
import pytest
from docker.models.containers import Container
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import provider_service_pb2_grpc as provider_grpc
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.errors import PrizmError
from provider_servers.container.contract import EXAMPLE
from tests.support.control import status
from tests.support.docker_engine import EngineSnapshot, leftovers, snapshot
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import ServerProcess, start_router

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

SHOUT = EXAMPLE / "prizm.service.yml"
# A cold start builds the image first (a layer on the base image, seconds); a warm one finds it.
START_TIMEOUT_S = 300.0


def _containers(
    client: docker.DockerClient, service: str = "shout", *, stopped: bool = False
) -> list[Container]:
    """The service's containers: those running, or (`stopped`) all of them."""
    filters: dict[str, str | list[str] | bool] = {"label": f"prizm.service={service}"}
    return client.containers.list(all=stopped, filters=filters)


@pytest.fixture(scope="module")
def before(docker_client: docker.DockerClient) -> EngineSnapshot:
    """What the engine and the firewall held before the router started."""
    assert not _containers(docker_client, stopped=True), "a shout container is left over"
    return snapshot(docker_client)


@pytest.fixture(scope="module")
def router(before: EngineSnapshot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A router whose config lists the shout service under `services:`."""
    config = tmp_path_factory.mktemp("container") / "router.yaml"
    # JSON is YAML; no startup wait, so that a job with nothing serving is refused at once.
    config.write_text(json.dumps({"services": [{"manifest": str(SHOUT)}], "startup_wait_s": 0}))
    server = start_router(config)
    yield server
    server.stop()


async def _endpoint(router: str) -> router_pb.ProviderEndpoint:
    """The service's endpoint at the router (its only one)."""
    async with PrizmClient(router) as client:
        (found,) = await client.list_providers()
    return found


async def _shout(router: str, text: str) -> str:
    async with PrizmClient(router) as client:
        result = await client.run("text-to-text", text, timeout=30)
    (output,) = result.outputs
    assert output.provenance.provider_id == "shout"
    return output.text()


async def _start_service(address: str) -> provider_pb.ServiceStatus:
    async with insecure_channel(address) as channel:
        stub = provider_grpc.ProviderServiceStub(channel)
        reply = await stub.StartService(provider_pb.StartServiceRequest(), timeout=START_TIMEOUT_S)
    return reply.status


def test_a_job_is_routed_to_the_container(router: ServerProcess, docker_client: docker.DockerClient) -> None:
    started = time.monotonic()
    (endpoint,) = asyncio.run(wait_routable(router.address, 1, timeout=START_TIMEOUT_S))
    print(f"shout serving {time.monotonic() - started:.1f} s after the router listened")
    assert endpoint.provider.id == "shout"
    assert asyncio.run(_shout(router.address, "hello from a container")) == "HELLO FROM A CONTAINER"
    (container,) = _containers(docker_client)
    assert container.name == "prizm-shout" and container.attrs["HostConfig"]["NetworkMode"] == "host"


def test_a_killed_container_is_not_served_then_restarted(
    router: ServerProcess, docker_client: docker.DockerClient
) -> None:
    address = asyncio.run(_endpoint(router.address)).address
    (container,) = _containers(docker_client)
    killed = time.monotonic()
    container.kill()

    async def provider_down() -> bool:
        return (await status(address)).state == provider_pb.SERVICE_STATE_STOPPED

    asyncio.run(wait_until(provider_down, 10.0, interval=0.02))
    seen_after = time.monotonic() - killed
    print(f"NOT_SERVING {seen_after:.2f} s after docker kill")
    assert seen_after < 2.0
    assert "container exited" in asyncio.run(status(address)).detail

    async def router_down() -> bool:
        return (await _endpoint(router.address)).state != router_pb.ENDPOINT_STATE_SERVING

    asyncio.run(wait_until(router_down, 5.0, interval=0.02))
    print(f"the router stops routing to it {time.monotonic() - killed:.2f} s after docker kill")
    with pytest.raises(PrizmError) as refused:
        asyncio.run(_shout(router.address, "nobody home"))
    assert refused.value.code in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION}
    assert refused.value.reason in {"NO_HEALTHY_PROVIDER", "NO_PROVIDER_FOR_CAPABILITY"}

    restarted = asyncio.run(_start_service(address))
    assert restarted.state == provider_pb.SERVICE_STATE_RUNNING and restarted.managed
    asyncio.run(wait_routable(router.address, 1, timeout=10.0))
    assert asyncio.run(_shout(router.address, "back again")) == "BACK AGAIN"


async def _cancel_after_progress(router: str) -> None:
    """Starts a slow job and stops listening once it has made progress: the job is cancelled."""
    async with PrizmClient(router) as client:
        events = client.stream("text-to-text", "never finished", model="shout-slowly", timeout=60)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Progress) and (event.fraction or 0.0) > 0:
                    break


def _jobs_in_container(address: str) -> list[dict[str, object]]:
    with httpx.Client(trust_env=False) as http:
        jobs: list[dict[str, object]] = http.get(f"http://{address}/v1/jobs", timeout=5).json()
    return jobs


def test_a_cancelled_job_is_cancelled_in_the_container(
    router: ServerProcess, docker_client: docker.DockerClient
) -> None:
    (container,) = _containers(docker_client)
    address = f"127.0.0.1:{container.labels['prizm.port']}"
    asyncio.run(_cancel_after_progress(router.address))

    async def cancelled() -> bool:
        statuses = [job["status"] for job in await asyncio.to_thread(_jobs_in_container, address)]
        return statuses == ["canceled"]

    asyncio.run(wait_until(cancelled, 10.0, interval=0.05))


def test_the_container_is_removed_with_the_router(
    router: ServerProcess, docker_client: docker.DockerClient, before: EngineSnapshot
) -> None:
    assert _containers(docker_client)
    assert router.stop() == 0
    assert _containers(docker_client, stopped=True) == []
    assert leftovers(docker_client, before) == []
    assert "service shout" in router.log_text()


def test_a_service_wanting_gpus_this_machine_lacks_is_skipped_and_nothing_is_created(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    service = tmp_path / "gpu-shout"
    shutil.copytree(SHOUT.parent, service)
    manifest = (service / "prizm.service.yml").read_text()
    manifest = manifest.replace("name: shout", "name: gpu-shout").replace("gpus: 0", "gpus: 64")
    (service / "prizm.service.yml").write_text(manifest)
    config = tmp_path / "router.yaml"
    config.write_text(json.dumps({"services": ["gpu-shout/prizm.service.yml"]}))
    server = start_router(config)
    try:

        async def skipped() -> bool:
            return "sidecar gpu-shout#0 is not available here" in server.log_text()

        asyncio.run(wait_until(skipped, 60.0, interval=0.05))
        assert "NO_GPU: service gpu-shout needs 64 GPU(s)" in server.log_text()
        assert "restarting in" not in server.log_text()
        assert _containers(docker_client, "gpu-shout", stopped=True) == []
    finally:
        assert server.stop() == 0
