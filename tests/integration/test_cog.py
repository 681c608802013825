"""The Cog adapter against real Cog servers (`python -m cog.server.http`, cog 0.23) with the predictors of
`tests/fixtures/cog/`, its provider served as a process behind a real router: options from the schema
checked before any prediction, progress from the model's log, a WAV file, an iterator's pictures
streamed one by one, cancel reaching the predictor, a failed setup taking the provider out, and a
server without a schema passing options through."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
import zlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prizm.v1 import provider_service_pb2 as provider_pb

from prizm_core.channels import insecure_channel
from prizm_core.client import PrizmClient
from prizm_core.client.events import Completion, OutputHeader, Progress
from prizm_core.client.results import OutputAsset
from prizm_core.errors import PrizmError
from prizm_core.options import OptionValue
from provider_servers.cog.devserver import PREDICTORS, CogServer, cog_server
from provider_servers.contract.polling import wait_until
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider
from tests.support.remote import prioritized_router

pytestmark = pytest.mark.timeout(120)

RATE = 8000  # the tone predictor's frames a second


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tone predictor notes each prediction it runs and each cancel it sees."""
    return tmp_path_factory.mktemp("cog-marks")


@pytest.fixture(scope="module")
def tone(marks: Path) -> Iterator[CogServer]:
    env = {"TONE_CALLS": str(marks / "calls"), "TONE_CANCEL_MARK": str(marks / "canceled")}
    with cog_server(PREDICTORS / "tone", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def frames() -> Iterator[CogServer]:
    with cog_server(PREDICTORS / "frames") as server:
        yield server


@pytest.fixture(scope="module")
def loose() -> Iterator[CogServer]:
    with cog_server(PREDICTORS / "loose") as server:
        yield server


def _provider(server: CogServer, name: str, capability: str, **env: str) -> ServerProcess:
    variables = {"PRIZM_COG_URL": server.url, "PRIZM_COG_ID": name, "PRIZM_COG_CAPABILITIES": capability}
    return start_provider("cog", env={**variables, **env})


@pytest.fixture(scope="module")
def reverse() -> Iterator[CogServer]:
    with cog_server(PREDICTORS / "reverse") as server:
        yield server


@pytest.fixture(scope="module")
def router(
    tmp_path_factory: pytest.TempPathFactory,
    tone: CogServer,
    frames: CogServer,
    loose: CogServer,
    reverse: CogServer,
) -> Iterator[ServerProcess]:
    """A router in front of four Cog providers: tone (speech), frames (pictures), loose (no schema),
    reverse (a file input)."""
    providers = [
        _provider(reverse, "cog-reverse", "audio-to-audio", PRIZM_COG_OUTPUT_MIME="audio/wav"),
        _provider(tone, "cog-tone", "text-to-audio", PRIZM_COG_OUTPUT_MIME="audio/wav"),
        _provider(frames, "cog-frames", "text-to-image", PRIZM_COG_OUTPUT_MIME="image/png"),
        _provider(loose, "cog-loose", "text-to-text", PRIZM_COG_INPUT_FIELD="text"),
    ]
    try:
        entries = [(p.address, 0) for p in providers]
        with prioritized_router(tmp_path_factory.mktemp("cog-router"), *entries) as server:
            yield server
    finally:
        for provider in providers:
            provider.stop()


def _calls(marks: Path) -> list[str]:
    path = marks / "calls"
    return path.read_text().splitlines() if path.exists() else []


def _data(output: OutputAsset) -> bytes:
    assert output.data is not None  # collected in memory: no sink was given
    return output.data


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), data[:8]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _png_grey(data: bytes) -> int:
    """The grey level of the first pixel (the frames predictor paints each picture one grey)."""
    length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    return zlib.decompress(data[41 : 41 + length])[1]


async def test_the_catalog_has_the_schema_options(router: ServerProcess) -> None:
    await wait_routable(router.address, 4)
    async with PrizmClient(router.address) as client:
        models = {m.id: m for m in await client.list_models()}
    params = {p.name: p for p in models["cog-tone"].parameters}
    assert list(params) == ["steps", "frequency", "mode", "step_s"]  # the text input is the job's input
    assert (params["steps"].minimum, params["steps"].maximum, params["steps"].default_value.number_value) == (
        1,
        50,
        4,
    )
    assert list(params["mode"].choices) == ["sine", "square"]
    assert params["frequency"].description == "Pitch in hertz"
    assert "unvalidated" in models["cog-loose"].description and not models["cog-loose"].parameters


@pytest.mark.parametrize("model", ["cog-tone", ""], ids=["checked-by-the-provider", "checked-by-the-router"])
@pytest.mark.parametrize(
    ("options", "problem"),
    [({"steps": 500}, ("options.steps", "at most 50")), ({"mode": "triangle"}, ("options.mode", "sine"))],
)
async def test_bad_options_are_refused_before_the_server_sees_a_prediction(
    router: ServerProcess,
    marks: Path,
    model: str,
    options: dict[str, OptionValue],
    problem: tuple[str, str],
) -> None:
    """Named, the model checks its options itself; unnamed, the router checks them on its catalog."""
    await wait_routable(router.address, 4)
    before = _calls(marks)
    async with PrizmClient(router.address) as client:
        with pytest.raises(PrizmError) as raised:
            await client.run("text-to-audio", "never spoken", model=model, options=options)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    field, words = problem
    assert any(name == field and words in said for name, said in raised.value.field_violations)
    assert _calls(marks) == before


async def test_progress_from_the_log_and_the_wav_the_model_wrote(router: ServerProcess, marks: Path) -> None:
    await wait_routable(router.address, 4)
    text = "A square tone, a hundredth of a second a character."
    options: dict[str, OptionValue] = {"steps": 5, "step_s": 0.3, "mode": "square", "frequency": 400.0}
    progress: list[Progress] = []
    async with PrizmClient(router.address) as client:
        result = await client.run(
            "text-to-audio",
            text,
            model="cog-tone",
            options=options,
            on_event=lambda e: progress.append(e) if isinstance(e, Progress) else None,
        )
    fractions = [e.fraction for e in progress if e.fraction is not None and e.fraction > 0]
    assert fractions == sorted(fractions) and len(set(fractions)) >= 2 and fractions[-1] == 1.0
    assert any("wrote the tone" in e.message or "wrote the tone" in e.logs for e in progress)
    [output] = result.outputs
    assert output.mime_type == "audio/wav"
    with wave.open(io.BytesIO(_data(output))) as audio:
        assert audio.getframerate() == RATE
        samples = struct.unpack(f"<{audio.getnframes()}h", audio.readframes(audio.getnframes()))
    assert len(samples) == round(len(text) * 0.01 * RATE)
    assert set(samples) == {12000, -12000}  # square, as asked
    assert _calls(marks)[-1] == text


async def test_an_iterator_output_streams_item_by_item(router: ServerProcess) -> None:
    await wait_routable(router.address, 4)
    order: list[str] = []
    async with PrizmClient(router.address) as client:
        result = await client.run(
            "text-to-image",
            "seven",
            model="cog-frames",
            options={"count": 3, "gap_s": 0.6},
            on_event=lambda e: order.append(
                "output" if isinstance(e, OutputHeader) else getattr(e, "message", "") or type(e).__name__
            ),
        )
    assert [_png_size(_data(o)) for o in result.outputs] == [(5, 1), (5, 2), (5, 3)]
    assert [_png_grey(_data(o)) for o in result.outputs] == [0, 40, 80]
    # The first picture reached the caller before the model had made the last one.
    assert order.index("output") < order.index("step 3/3")
    assert order[-1] == Completion.__name__


async def test_cancel_stops_the_prediction_and_frees_the_server(
    router: ServerProcess, marks: Path, tone: CogServer
) -> None:
    await wait_routable(router.address, 4)
    text = "a tone cancelled half way"
    async with PrizmClient(router.address) as client:
        events = client.stream("text-to-audio", text, model="cog-tone", options={"steps": 40, "step_s": 0.2})
        async for event in events:
            if isinstance(event, Progress) and event.fraction:
                assert event.fraction < 0.5
                break
        await events.aclose()

        async def cancelled() -> bool:
            return (marks / "canceled").exists() and (marks / "canceled").read_text() == text

        await wait_until(cancelled, timeout=10)

        async def idle() -> bool:  # the predictor re-raised the cancel: the server ends the prediction
            return tone.health()["status"] == "READY"

        await wait_until(idle, timeout=5, interval=0.05)
        done = await client.run("text-to-audio", "next", model="cog-tone", options={"steps": 1})
    assert len(_data(done.outputs[0])) == 44 + 2 * round(4 * 0.01 * RATE)


def _wav(path: Path, seconds: float, rate: int) -> list[int]:
    """A mono ramp of `seconds` at `rate` frames a second, written to `path`; returns its samples."""
    samples = [(i * 7) % 60000 - 30000 for i in range(round(seconds * rate))]
    with wave.open(str(path), "wb") as audio:
        audio.setparams((1, 2, rate, 0, "NONE", "not compressed"))
        audio.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return samples


@pytest.mark.parametrize("seconds", [0.5, 40.0], ids=["data-uri", "lent-url"])
async def test_a_file_input_reaches_the_model(router: ServerProcess, tmp_path: Path, seconds: float) -> None:
    """Half a second goes inline as a data URI; 40 s (1.9 MB, over the 1 MB of a data URI) goes as a URL
    of the provider's receiver, which the server fetches."""
    await wait_routable(router.address, 4)
    samples = _wav(tmp_path / "ramp.wav", seconds, 24000)
    async with PrizmClient(router.address) as client:
        result = await client.run("audio-to-audio", tmp_path / "ramp.wav", model="cog-reverse")
    with wave.open(io.BytesIO(_data(result.outputs[0]))) as audio:
        back = struct.unpack(f"<{audio.getnframes()}h", audio.readframes(audio.getnframes()))
    assert list(back) == samples[::-1]


async def test_a_server_without_schema_takes_options_as_given(router: ServerProcess) -> None:
    await wait_routable(router.address, 4)
    async with PrizmClient(router.address) as client:
        result = await client.run("text-to-text", "echo", model="cog-loose", options={"times": 3, "sep": "+"})
    assert result.outputs[0].data == b"echo+echo+echo"


async def test_a_failed_setup_takes_the_provider_out_with_its_logs() -> None:
    with cog_server(PREDICTORS / "broken") as broken:
        assert broken.health()["status"] == "SETUP_FAILED"
        provider = _provider(broken, "cog-broken", "text-to-text")
        try:

            async def reported() -> bool:
                return "SETUP_FAILED" in (await status(provider.address)).detail

            await wait_until(reported, timeout=10, interval=0.1)
            found = await status(provider.address)
            assert "no such weights" in found.detail  # the tail of the setup logs
            assert found.state != provider_pb.SERVICE_STATE_RUNNING
            async with insecure_channel(provider.address) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        finally:
            provider.stop()


async def test_jobs_back_to_back_wait_for_the_slot_cog_has_not_freed_yet(router: ServerProcess) -> None:
    await wait_routable(router.address, 4)
    texts = [f"job {n} of five" for n in range(5)]
    options: dict[str, OptionValue] = {"steps": 1, "step_s": 0.0}
    async with PrizmClient(router.address) as client:
        for text in texts:  # each right after the one before, as Cog frees its slot a moment late
            result = await client.run("text-to-audio", text, model="cog-tone", options=options)
            [output] = result.outputs
            with wave.open(io.BytesIO(_data(output))) as audio:
                assert audio.getnframes() == round(len(text) * 0.01 * RATE)


async def test_a_job_for_a_slot_busy_with_another_callers_prediction_runs_after_it(
    router: ServerProcess, tone: CogServer
) -> None:
    await wait_routable(router.address, 4)
    body = {"input": {"text": "someone else's", "steps": 4, "step_s": 1.0}}
    async with httpx.AsyncClient(timeout=30) as direct:
        other = asyncio.ensure_future(direct.post(f"{tone.url}/predictions", json=body))
        await wait_until(lambda: _status_is(direct, tone.url, "BUSY"), timeout=10, interval=0.05)
        async with PrizmClient(router.address) as client:
            result = await client.run("text-to-audio", "mine", model="cog-tone", options={"steps": 1})
        # Refused while the slot was busy (409), then asked again once it was free: never two at once.
        assert other.done()
        assert (await other).json()["status"] == "succeeded"
    [output] = result.outputs
    with wave.open(io.BytesIO(_data(output))) as audio:
        assert audio.getnframes() == round(len("mine") * 0.01 * RATE)


async def _status_is(client: httpx.AsyncClient, url: str, status: str) -> bool:
    return bool((await client.get(f"{url}/health-check")).json()["status"] == status)
