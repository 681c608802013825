"""The rendered Helm chart runs under `podman kube play`: a router Pod and a synthetic provider Pod
serve, a job goes through the router to the provider, and `podman kube down` leaves nothing.

How the chart runs outside Kubernetes (README of the chart: Trying the chart with podman):
- `hostNetwork: true` and `listenHost: 127.0.0.1`: there is no Pod network here, and servers bind
  loopback only.
- No cluster DNS: the headless Service name the chart writes into the router's `dns:` list resolves
  nowhere (the router logs it and keeps going). The values give the router the provider's loopback
  address as a static provider (`router.config.providers`), the chart's way to name a provider
  outside the cluster.
- Only the Deployments and the ConfigMap are played, without the containers' `ports`
  (`tests/support/podman.py` says why). podman ignores gRPC probes, so this test probes the router
  with `prizm health-probe` from the host.
- Both Pods run the router image: `prizm serve-provider synthetic` needs no extras, so one image is
  copied from the Docker engine into podman's store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import kubernetes_validate
import pytest
import yaml

from prizm_core.client import PrizmClient
from provider_servers.synthetic.provider import synthetic_output
from tests.support.docker_engine import leftovers, snapshot
from tests.support.images import build_images
from tests.support.mesh import wait_routable
from tests.support.podman import Podman, playable, podman_program

# Cold, the images are built first (minutes) and the router image copied into podman (~20 s).
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "prizm"
RELEASE = "kp"
LOOPBACK = "127.0.0.1"
# podman names a Deployment's container `<deployment>-pod-0-<container>`.
CONTAINERS = (f"{RELEASE}-prizm-router-pod-0-router", f"{RELEASE}-prizm-synthetic-pod-0-provider")
CONFIG_MAP = f"{RELEASE}-prizm-router"
START_TIMEOUT_S = 60.0
PRIZM_UID = "10001"
# The oldest Kubernetes the chart's checks validate against (tests/integration/test_helm_chart.py).
KUBE_VERSION = "1.30"


def _free_port() -> int:
    with socket.socket() as held:
        held.bind((LOOPBACK, 0))
        return int(held.getsockname()[1])


def _serves(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((LOOPBACK, port)) == 0


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    """A podman with its own store under /var/tmp, removed with everything in it afterwards."""
    program = podman_program()
    if program is None:
        pytest.skip(
            "podman and catatonit are not installed (scripts/docker_engine.sh start installs them as root)"
        )
    store = Podman.create(program)
    try:
        yield store
    finally:
        store.destroy()
    assert not store.home.exists()
    assert str(store.home) not in Path("/proc/self/mountinfo").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def router_image(
    docker_client: docker.DockerClient, podman: Podman, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The router image, built unless the engine has it, and copied into podman's store."""
    image = build_images(docker_client, tmp_path_factory.mktemp("images")).router
    podman.load(docker_client, image)
    return image


def _values(image: str, router_port: int, provider_port: int) -> dict[str, Any]:
    """Chart values for one machine: the router and a synthetic provider on loopback ports."""
    repository, tag = image.rsplit(":", 1)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    # `null` removes a default provider; Never: the image is in podman's store, and no registry answers.
    providers: dict[str, Any] = dict.fromkeys(defaults["providers"])
    providers["synthetic"] = {"port": provider_port}
    return {
        "hostNetwork": True,
        "listenHost": LOOPBACK,
        "router": {
            "replicas": 1,
            "port": router_port,
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "config": {"providers": [{"address": f"{LOOPBACK}:{provider_port}"}]},
        },
        "providerImage": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "providers": providers,
    }


def _render(values: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """`helm template` of the chart with `values` (helm from scripts/k8s_tools.sh)."""
    tools = subprocess.run(
        [str(ROOT / "scripts" / "k8s_tools.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    assert tools.returncode == 0, f"scripts/k8s_tools.sh failed:\n{tools.stderr}"
    values_file = folder / "values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    # Helm writes its cache and config under these; keep it off the user's home.
    env = {
        **os.environ,
        **{f"HELM_{k}_HOME": str(folder / "helm" / k.lower()) for k in ("CACHE", "CONFIG", "DATA")},
    }
    done = subprocess.run(
        [str(Path(tools.stdout.strip()) / "helm"), "template", RELEASE, str(CHART), "-f", str(values_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _wait_running(podman: Podman) -> None:
    """Waits until both Prizm containers run; fails with their logs if one stops or never starts."""
    deadline = time.monotonic() + START_TIMEOUT_S
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {c["Names"][0]: c["State"] for c in podman.listed("ps", "--all") if not c["IsInfra"]}
        if sorted(states) == sorted(CONTAINERS) and set(states.values()) == {"running"}:
            return
        if any(state in ("exited", "stopped") for state in states.values()):
            break
        time.sleep(0.2)
    logs = "\n".join(f"--- {name}\n{podman.run('logs', name, check=False).stderr[-2000:]}" for name in states)
    pytest.fail(f"the Pods' containers are {states}, not all running\n{logs}")


def _wait_probe(port: int) -> str:
    """Runs `prizm health-probe` from the host until the server on `port` answers SERVING."""
    prizm = str(Path(sys.executable).parent / "prizm")
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        probe = subprocess.run(
            [prizm, "health-probe", f"{LOOPBACK}:{port}", "--timeout", "2"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0 or time.monotonic() > deadline:
            return probe.stdout + probe.stderr
        time.sleep(0.2)


def _down(podman: Podman, manifest: Path, ports: tuple[int, int]) -> None:
    """`podman kube down`, then proof that nothing it played is left."""
    down = podman.run("kube", "down", str(manifest), check=False)
    assert down.returncode == 0, down.stdout + down.stderr
    assert podman.listed("ps", "--all") == []
    assert podman.listed("pod", "ps") == []
    # podman 4.3 keeps the volume it made of the ConfigMap (nothing else): remove it by name.
    volumes = {v["Name"] for v in podman.listed("volume", "ls")}
    assert volumes <= {CONFIG_MAP}, volumes
    for volume in volumes:
        podman.run("volume", "rm", volume)
    assert podman.listed("volume", "ls") == []
    assert not any(_serves(port) for port in ports), "a server still listens"


@pytest.fixture
def played(
    docker_client: docker.DockerClient, podman: Podman, router_image: str, tmp_path: Path
) -> Iterator[str]:
    """The chart's router and synthetic provider played by podman; the router's address."""
    before = snapshot(docker_client)
    router_port, provider_port = _free_port(), _free_port()
    docs = _render(_values(router_image, router_port, provider_port), tmp_path)
    for doc in docs:
        # What podman plays is a valid Kubernetes manifest too: the host-network values included.
        assert kubernetes_validate.validate(doc, KUBE_VERSION, strict=True) == KUBE_VERSION
    routers = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-prizm-router"
    ]
    assert routers[0]["spec"]["template"]["spec"]["hostNetwork"] is True
    manifest = tmp_path / "play.yaml"
    manifest.write_text(yaml.safe_dump_all(playable(docs)), encoding="utf-8")
    try:
        podman.run("kube", "play", str(manifest))
        _wait_running(podman)
        for port in (provider_port, router_port):
            said = _wait_probe(port)
            assert f"SERVING: the server at {LOOPBACK}:{port}" in said, said
        for name in CONTAINERS:
            # The chart's securityContext reached the containers: not root.
            assert podman.run("exec", name, "id", "-u").stdout.strip() == PRIZM_UID
        yield f"{LOOPBACK}:{router_port}"
    finally:
        _down(podman, manifest, (router_port, provider_port))
    # Host networking: podman made no network and no firewall rule.
    assert leftovers(docker_client, before) == []


async def test_the_chart_played_by_podman_routes_a_job_to_its_provider(played: str) -> None:
    await wait_routable(played, 1)
    text = "Played by podman. "
    async with PrizmClient(played) as client:
        result = await client.run(
            "text-to-text",
            text,
            model="synthetic-v1",
            options={"events": 3, "output_bytes": 1000},
            timeout=30,
        )
    (output,) = result.outputs
    assert output.provenance.provider_id == "synthetic"
    assert output.data == synthetic_output(text.encode(), 1000)
