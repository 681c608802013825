"""The Cog adapter against real Cog servers in containers: the predictors of `tests/fixtures/cog/`
built into images (`tests/fixtures/cog-services/`) and listed under `services:` of a real router.
Options from the schema checked before any prediction, progress from the model's log, a WAV file,
cancel reaching the predictor in its container, a failed setup keeping the provider out, and
nothing left when the router stops.

The broken service gets a router of its own, after the tone service's has stopped, so that its
failure is its own. (Two Cog containers starting at the same moment used to clash, "Address already
in use": the container provider now starts them one after another, see
`test_cog_containers_together.py`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import docker
import grpc
import httpx
import pytest
from docker.models.containers import Container
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Progress
from prizm_core.client.results import OutputAsset
from prizm_core.errors import PrizmError
from prizm_core.options import OptionValue
from tests.support.control import status
from tests.support.docker_engine import EngineSnapshot, leftovers, snapshot
from tests.support.mesh import wait_routable, wait_until
from tests.support.processes import ServerProcess, start_router

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

SERVICES = Path(__file__).resolve().parents[1] / "fixtures" / "cog-services"
NAMES = ("cog-tone", "cog-broken")
RATE = 8000  # the tone predictor's frames a second
# Cold, each image is built first (the cog wheels installed on the base image: about 10 s).
START_TIMEOUT_S = 300.0
# Where the tone predictor notes, inside its container, each prediction it runs and each cancel it
# sees (its manifest's environment).
CALLS = "/tmp/tone-calls"  # noqa: S108 - in the container, which only the test writes to
CANCEL_MARK = "/tmp/tone-canceled"  # noqa: S108 - likewise


def _ours(client: docker.DockerClient) -> list[Container]:
    """The containers of the two services, running or not, by name."""
    found = client.containers.list(all=True, filters={"label": "prizm.service"})
    return sorted((c for c in found if c.labels["prizm.service"] in NAMES), key=lambda c: c.name or "")


@pytest.fixture(scope="module")
def before(docker_client: docker.DockerClient) -> EngineSnapshot:
    """What the engine and the firewall held before the router started."""
    assert _ours(docker_client) == [], "a Cog service container is left over"
    return snapshot(docker_client)


@contextlib.contextmanager
def _router(folder: Path, *services: str) -> Iterator[ServerProcess]:
    """A router whose config lists the services of `tests/fixtures/cog-services/` named, stopped on exit."""
    config = folder / "router.yaml"
    entries = [{"manifest": str(SERVICES / name / "prizm.service.yml")} for name in services]
    # JSON is YAML; no startup wait, so that a job for a provider that does not serve is refused at once.
    config.write_text(json.dumps({"services": entries, "startup_wait_s": 0}))
    server = start_router(config)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def router(before: EngineSnapshot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A router whose config lists the tone service under `services:`."""
    with _router(tmp_path_factory.mktemp("cog-container"), "tone") as server:
        yield server


def _container(client: docker.DockerClient, service: str) -> Container:
    return client.containers.get(f"prizm-{service}")


def _file_in(container: Container, path: str) -> str:
    """A file's text inside the running container; "" when it does not exist."""
    code, output = container.exec_run(["cat", path])
    assert isinstance(output, bytes)  # not streamed
    return output.decode() if code == 0 else ""


def _calls(container: Container) -> list[str]:
    return _file_in(container, CALLS).splitlines()


def _cog_log(container: Container) -> list[tuple[str, str]]:
    """The Cog server's log records about predictions, as (message, prediction id), oldest first.

    cog 0.23's server writes one JSON record a line, e.g. `Starting prediction`, `Prediction
    cancelled`, and the model's own output lines, each with the id of the prediction it is about.
    """
    records = []
    for line in container.logs().decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            fields = json.loads(line).get("fields", {})
            if "prediction_id" in fields:
                records.append((str(fields["message"]), str(fields["prediction_id"])))
    return records


def _started(container: Container) -> list[str]:
    """The ids of the predictions the Cog server started."""
    return [prediction for message, prediction in _cog_log(container) if message == "Starting prediction"]


def _cog_health(container: Container) -> dict[str, object]:
    """The Cog server's own `/health-check` body, on the loopback port the container serves."""
    url = f"http://127.0.0.1:{container.labels['prizm.port']}/health-check"
    with httpx.Client(trust_env=False) as http:
        body: dict[str, object] = http.get(url, timeout=5).json()
    return body


def _data(output: OutputAsset) -> bytes:
    assert output.data is not None  # collected in memory: no sink was given
    return output.data


def test_the_tone_container_serves_the_schema_options(
    router: ServerProcess, docker_client: docker.DockerClient
) -> None:
    started = time.monotonic()
    (endpoint,) = asyncio.run(wait_routable(router.address, 1, timeout=START_TIMEOUT_S))
    print(f"cog-tone serving {time.monotonic() - started:.1f} s after the router listened")
    assert endpoint.provider.id == "cog-tone"
    tone = _container(docker_client, "cog-tone")
    assert tone.attrs["HostConfig"]["NetworkMode"] == "host"
    assert _cog_health(tone)["status"] == "READY"

    async def catalog() -> dict[str, catalog_pb.Parameter]:
        async with PrizmClient(router.address) as client:
            models = {m.id: m for m in await client.list_models()}
        return {p.name: p for p in models["cog-tone"].parameters}

    params = asyncio.run(catalog())
    assert list(params) == ["steps", "frequency", "mode", "step_s"]  # the text input is the job's input
    steps = params["steps"]
    assert (steps.minimum, steps.maximum, steps.default_value.number_value) == (1, 50, 4)
    assert list(params["mode"].choices) == ["sine", "square"]
    assert params["frequency"].description == "Pitch in hertz"


@pytest.mark.parametrize("model", ["cog-tone", ""], ids=["checked-by-the-provider", "checked-by-the-router"])
@pytest.mark.parametrize(
    ("options", "problem"),
    [({"steps": 500}, ("options.steps", "at most 50")), ({"mode": "triangle"}, ("options.mode", "sine"))],
)
async def test_bad_options_are_refused_before_the_container_sees_a_prediction(
    router: ServerProcess,
    docker_client: docker.DockerClient,
    model: str,
    options: dict[str, OptionValue],
    problem: tuple[str, str],
) -> None:
    await wait_routable(router.address, 1, timeout=START_TIMEOUT_S)
    tone = _container(docker_client, "cog-tone")
    calls = await asyncio.to_thread(_calls, tone)
    started = await asyncio.to_thread(_started, tone)
    async with PrizmClient(router.address) as client:
        with pytest.raises(PrizmError) as raised:
            await client.run("text-to-audio", "never spoken", model=model, options=options, timeout=30)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    field, words = problem
    assert any(name == field and words in said for name, said in raised.value.field_violations)
    # Neither the server started a prediction nor did the model see one.
    assert await asyncio.to_thread(_started, tone) == started
    assert await asyncio.to_thread(_calls, tone) == calls
    assert "never spoken" not in calls


async def test_progress_from_the_container_log_and_the_wav_the_model_wrote(
    router: ServerProcess, docker_client: docker.DockerClient
) -> None:
    await wait_routable(router.address, 1, timeout=START_TIMEOUT_S)
    text = "A square tone made in a container."
    options: dict[str, OptionValue] = {"steps": 5, "step_s": 0.3, "mode": "square", "frequency": 400.0}
    progress: list[Progress] = []
    async with PrizmClient(router.address) as client:
        result = await client.run(
            "text-to-audio",
            text,
            model="cog-tone",
            options=options,
            timeout=60,
            on_event=lambda e: progress.append(e) if isinstance(e, Progress) else None,
        )
    fractions = [e.fraction for e in progress if e.fraction is not None and e.fraction > 0]
    assert fractions == sorted(fractions) and len(set(fractions)) >= 2 and fractions[-1] == 1.0
    assert any("wrote the tone" in e.message or "wrote the tone" in e.logs for e in progress)
    [output] = result.outputs
    assert output.provenance.provider_id == "cog-tone"
    assert output.mime_type in {"audio/wav", "audio/x-wav"}, output.mime_type  # Cog's data URI says
    with wave.open(io.BytesIO(_data(output))) as audio:
        assert audio.getframerate() == RATE
        samples = struct.unpack(f"<{audio.getnframes()}h", audio.readframes(audio.getnframes()))
    assert len(samples) == round(len(text) * 0.01 * RATE)
    assert set(samples) == {12000, -12000}  # square, as asked
    assert (await asyncio.to_thread(_calls, _container(docker_client, "cog-tone")))[-1] == text


async def test_cancel_stops_the_prediction_in_the_container(
    router: ServerProcess, docker_client: docker.DockerClient
) -> None:
    await wait_routable(router.address, 1, timeout=START_TIMEOUT_S)
    tone = _container(docker_client, "cog-tone")
    text = "a tone cancelled half way in its container"
    async with PrizmClient(router.address) as client:
        events = client.stream("text-to-audio", text, model="cog-tone", options={"steps": 40, "step_s": 0.2})
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Progress) and event.fraction:
                    assert event.fraction < 0.5
                    break

        async def cancelled() -> bool:
            """The predictor itself saw the cancel, and the server's log says it ended so."""
            if await asyncio.to_thread(_file_in, tone, CANCEL_MARK) != text:
                return False
            log = await asyncio.to_thread(_cog_log, tone)
            last = [prediction for message, prediction in log if message == "Starting prediction"][-1]
            return ("Prediction cancelled", last) in log

        await wait_until(cancelled, 10.0, interval=0.1)

        async def idle() -> bool:  # the server ended the prediction: it takes the next one
            return (await asyncio.to_thread(_cog_health, tone))["status"] == "READY"

        await wait_until(idle, 5.0, interval=0.05)
        done = await client.run("text-to-audio", "next", model="cog-tone", options={"steps": 1}, timeout=30)
    assert len(_data(done.outputs[0])) == 44 + 2 * round(4 * 0.01 * RATE)


def test_nothing_of_the_tone_service_is_left_when_the_router_stops(
    router: ServerProcess, docker_client: docker.DockerClient, before: EngineSnapshot
) -> None:
    assert [c.name for c in _ours(docker_client)] == ["prizm-cog-tone"]
    assert router.stop() == 0
    assert _ours(docker_client) == []
    assert leftovers(docker_client, before) == []


async def _endpoint(router: str, provider: str) -> router_pb.ProviderEndpoint:
    async with PrizmClient(router) as client:
        (found,) = [e for e in await client.list_providers() if e.provider.id == provider]
    return found


async def _setup_failed(router: str, provider: str) -> router_pb.ProviderEndpoint:
    """The provider's endpoint once it says its model's setup failed (its image built, it started)."""

    async def reported() -> bool:
        return "SETUP_FAILED" in (await _endpoint(router, provider)).detail

    await wait_until(reported, START_TIMEOUT_S, interval=0.1)
    return await _endpoint(router, provider)


async def test_a_failed_setup_in_the_container_is_not_served(
    before: EngineSnapshot, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """The broken predictor's server runs and answers, but its model's setup failed."""
    with _router(tmp_path, "broken") as router:
        endpoint = await _setup_failed(router.address, "cog-broken")
        broken = _container(docker_client, "cog-broken")
        assert broken.status == "running"
        assert (await asyncio.to_thread(_cog_health, broken))["status"] == "SETUP_FAILED"
        assert endpoint.state != router_pb.ENDPOINT_STATE_SERVING
        assert "no such weights" in endpoint.detail  # the tail of the setup logs
        found = await status(endpoint.address)
        assert found.state != provider_pb.SERVICE_STATE_RUNNING and "no such weights" in found.detail
        async with insecure_channel(endpoint.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING

        async with PrizmClient(router.address) as client:
            with pytest.raises(PrizmError) as refused:
                await client.run("text-to-text", "anything", model="cog-broken", timeout=10)
        # Not serving, it offers no model: the router refuses at once, naming the one asked for.
        assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND")
        assert "cog-broken" in refused.value.message
    assert _ours(docker_client) == []
    assert leftovers(docker_client, before) == []
