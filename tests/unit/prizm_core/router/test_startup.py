"""Right after start: jobs wait (bounded) for a preferred sidecar still warming; the ready line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import SidecarSpec
from prizm_core.errors import PrizmError
from prizm_core.router.core import Router, RouterSettings
from prizm_core.router.registry import Catalog, Endpoint
from prizm_core.router.routing import Route
from prizm_core.router.sidecars import Sidecar
from prizm_core.router.startup import SidecarEndpoints, ready_line
from tests.unit.prizm_core.router.catalogs import STT, TTS, catalog

SIDECAR = router_pb.DISCOVERY_SOURCE_SIDECAR
SERVING = router_pb.ENDPOINT_STATE_SERVING
PIPER = catalog("piper", [("amy", [TTS])])
ESPEAK = catalog("espeak", [("espeak-ng", [TTS])])
JOB = model_pb.EstimateCostRequest()


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    """A router whose sidecars may take 5 s to start; its endpoints are set by hand (no health checks)."""
    made = Router(RouterSettings(startup_wait_s=5.0))
    yield made
    await made.close()


def _warming(router: Router, port: int, name: str, priority: int) -> Endpoint:
    endpoint = router.registry.add(f"127.0.0.1:{port}", SIDECAR, priority, name)
    endpoint.warm_until = time.monotonic() + router.settings.startup_wait_s
    return endpoint


def _serve(router: Router, endpoint: Endpoint, described: Catalog) -> None:
    """What the health monitor does at a first SERVING: the verdict, with the catalog."""
    endpoint.signals.report(SERVING)
    router.registry.refresh(endpoint, described)


async def test_a_job_waits_for_the_preferred_provider_still_warming(router: Router) -> None:
    piper = _warming(router, 41201, "piper", 10)
    espeak = _warming(router, 41202, "espeak", 0)
    _serve(router, espeak, ESPEAK)
    waiting = asyncio.create_task(router.candidates(Route(capability=TTS), JOB, None, wait_for_ready=False))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "espeak is serving, but piper is preferred and still warming"
    _serve(router, piper, PIPER)
    assert await asyncio.wait_for(waiting, 1.0) == [piper, espeak]


async def test_no_wait_for_a_lower_priority_one_or_a_failed_start(router: Router) -> None:
    piper = _warming(router, 41203, "piper", 10)
    _warming(router, 41204, "espeak", 0)
    _serve(router, piper, PIPER)
    route = Route(capability=TTS)
    assert await asyncio.wait_for(router.candidates(route, JOB, None, False), 0.1) == [piper]
    failed = _warming(router, 41205, "better", 20)
    router.registry.stop_warming(failed.address)  # it crashed at start
    assert await asyncio.wait_for(router.candidates(route, JOB, None, False), 0.1) == [piper]


async def test_the_wait_leaves_half_the_deadline_to_the_candidate_at_hand(router: Router) -> None:
    _warming(router, 41206, "piper", 10)
    espeak = _warming(router, 41207, "espeak", 0)
    _serve(router, espeak, ESPEAK)
    start = time.monotonic()
    ordered = await router.candidates(Route(capability=TTS), JOB, start + 0.6, wait_for_ready=False)
    assert ordered == [espeak]
    assert 0.25 <= time.monotonic() - start < 0.5


async def test_with_nothing_serving_the_job_waits_then_fails_once_the_start_failed(router: Router) -> None:
    piper = _warming(router, 41208, "piper", 10)
    waiting = asyncio.create_task(router.candidates(Route(capability=TTS), JOB, None, wait_for_ready=False))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "no NO_PROVIDER_FOR_CAPABILITY while the only sidecar may still serve it"
    router.registry.stop_warming(piper.address)
    with pytest.raises(PrizmError) as caught:
        await asyncio.wait_for(waiting, 1.0)
    assert (caught.value.code, caught.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_PROVIDER_FOR_CAPABILITY",
    )


async def test_a_named_provider_waits_only_for_its_own_sidecar(router: Router) -> None:
    _warming(router, 41209, "piper", 10)
    espeak = _warming(router, 41210, "espeak", 0)
    _serve(router, espeak, ESPEAK)
    named = Route(capability=TTS, provider="espeak")
    assert await asyncio.wait_for(router.candidates(named, JOB, None, False), 0.1) == [espeak]


def _sidecar(provider: str, port: int, replicas: int = 1, replica: int = 0) -> Sidecar:
    spec = SidecarSpec(provider=provider, replicas=replicas)
    return Sidecar(spec=spec, replica=replica, address=f"127.0.0.1:{port}")


async def test_sidecars_are_listed_by_name_before_they_serve(router: Router) -> None:
    sidecar = _sidecar("piper", 41211)
    SidecarEndpoints(router).placed(sidecar, "")
    (listed,) = router.endpoints()
    assert (listed.provider.id, listed.state, listed.source) == (
        "piper",
        router_pb.ENDPOINT_STATE_PENDING,
        SIDECAR,
    )
    endpoint = router.registry.get(sidecar.address)
    assert endpoint is not None and endpoint.warming(time.monotonic())


async def test_the_ready_line_comes_once_every_sidecar_has_started_or_will_not(router: Router) -> None:
    piper, espeak, ocr = _sidecar("piper", 41212), _sidecar("espeak", 41213), _sidecar("ocr", 41214)
    flaky = [_sidecar("flaky", 41215 + i, replicas=2, replica=i) for i in range(2)]
    sidecars = [piper, espeak, ocr, *flaky]
    endpoints = {
        s.address: _warming(router, int(s.address.rpartition(":")[2]), s.spec.provider, 0) for s in sidecars
    }
    address = "127.0.0.1:50051"
    assert ready_line(router, sidecars, address, time.monotonic()) is None
    _serve(router, endpoints[piper.address], PIPER)
    ocr.skipped = "pip install 'prizm[ocr]'"
    flaky[0].exited = "exited with 1"
    _serve(router, endpoints[flaky[1].address], catalog("flaky", [("f", [TTS])]))
    assert ready_line(router, sidecars, address, time.monotonic()) is None, "espeak is still starting"
    _serve(router, endpoints[espeak.address], ESPEAK)
    assert ready_line(router, sidecars, address, time.monotonic()) == (
        "ready: piper, espeak, flaky#1 on 127.0.0.1:50051; skipped ocr (pip install 'prizm[ocr]'); "
        "failed flaky#0 (exited with 1; restarting)"
    )


async def test_a_sidecar_past_its_startup_wait_is_reported_still_starting(router: Router) -> None:
    slow = _sidecar("piper", 41218)
    _warming(router, 41218, "piper", 0)
    later = time.monotonic() + router.settings.startup_wait_s + 1
    assert ready_line(router, [slow], "127.0.0.1:1", later) == (
        "ready: no providers on 127.0.0.1:1; still starting piper (not serving after 5 s)"
    )
    assert ready_line(router, [], "127.0.0.1:1", time.monotonic()) == "ready on 127.0.0.1:1"


async def test_a_sidecar_that_listens_but_cannot_serve_is_reported_at_once(router: Router) -> None:
    refused, piper = _sidecar("acme", 41221), _sidecar("piper", 41222)
    endpoint = _warming(router, 41221, "acme", 0)
    _serve(router, _warming(router, 41222, "piper", 0), PIPER)
    assert ready_line(router, [refused, piper], "127.0.0.1:1", time.monotonic()) is None, "still warming"
    # What the health monitor does when the provider's own status says it stopped.
    endpoint.signals.report(
        router_pb.ENDPOINT_STATE_NOT_SERVING, "health: NOT_SERVING: UPSTREAM_AUTH_FAILED: no"
    )
    router.registry.refresh(endpoint)
    router.registry.stop_warming(endpoint.address)
    assert ready_line(router, [refused, piper], "127.0.0.1:1", time.monotonic()) == (
        "ready: piper on 127.0.0.1:1; not serving acme (UPSTREAM_AUTH_FAILED: no)"
    )


async def test_a_skipped_sidecar_leaves_and_a_crashed_one_is_no_longer_waited_for(router: Router) -> None:
    hooks = SidecarEndpoints(router)
    skipped, crashed = _sidecar("ocr", 41219), _sidecar("piper", 41220)
    for sidecar in (skipped, crashed):
        hooks.placed(sidecar, "")
    skipped.skipped = "pip install 'prizm[ocr]'"
    hooks.exited(skipped)
    crashed.exited = "exited with 1"
    hooks.exited(crashed)
    gone = router.registry.get(skipped.address)
    assert gone is None or gone.state == router_pb.ENDPOINT_STATE_DRAINING
    left = router.registry.get(crashed.address)
    assert left is not None and not left.warming(time.monotonic())
    assert [e.provider.id for e in router.endpoints() if e.state != router_pb.ENDPOINT_STATE_DRAINING] == [
        "piper"
    ]


def _with_speed(provider_id: str, model_id: str, maximum: float) -> Catalog:
    described = catalog(provider_id, [(model_id, [TTS])])
    speed = catalog_pb.Parameter(name="speed", type=catalog_pb.PARAMETER_TYPE_NUMBER, maximum=maximum)
    described.models[0].message.parameters.append(speed)
    return described


async def test_only_a_warming_provider_whose_preview_may_take_the_job_is_waited_for(router: Router) -> None:
    piper = _warming(router, 41221, "piper", 10)
    espeak = _warming(router, 41222, "espeak", 0)
    _serve(router, espeak, _with_speed("espeak", "espeak-ng", 4.0))
    # What piper says of itself while it warms up: text-to-audio, speed up to 2.
    router.registry.previewed(piper, _with_speed("piper", "amy", 2.0))
    fast = Route(capability=TTS, options={"speed": 3.0})
    assert await asyncio.wait_for(router.candidates(fast, JOB, None, False), 0.1) == [espeak]
    stt = Route(capability=STT)
    with pytest.raises(PrizmError) as caught:
        await asyncio.wait_for(router.candidates(stt, JOB, None, False), 0.1)
    assert caught.value.reason == "NO_PROVIDER_FOR_CAPABILITY"
    waiting = asyncio.create_task(router.candidates(Route(capability=TTS), JOB, None, False))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "piper's preview accepts this job: it is waited for"
    _serve(router, piper, PIPER)
    assert await asyncio.wait_for(waiting, 1.0) == [piper, espeak]
