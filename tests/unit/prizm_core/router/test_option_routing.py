"""Routing by option schema: who accepts a job's options, and the error naming who refused what."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.errors import PrizmError
from prizm_core.router.core import Router, RouterSettings
from prizm_core.router.dispatch import route_of
from prizm_core.router.registry import Catalog, Endpoint, ModelEntry
from prizm_core.router.routing import Route, accepting, options_error
from tests.unit.prizm_core.router.catalogs import TTS, endpoint

NUMBER = catalog_pb.PARAMETER_TYPE_NUMBER
STRING = catalog_pb.PARAMETER_TYPE_STRING


def _speech(provider_id: str, model_id: str, *parameters: catalog_pb.Parameter) -> Catalog:
    model = catalog_pb.Model(id=model_id, capabilities=[TTS], parameters=parameters, provider_id=provider_id)
    info = catalog_pb.ProviderInfo(id=provider_id, capabilities=[TTS])
    return Catalog(info=info, models=(ModelEntry(id=model_id, capabilities=frozenset([TTS]), message=model),))


def _speed(maximum: float) -> catalog_pb.Parameter:
    return catalog_pb.Parameter(name="speed", type=NUMBER, minimum=0.5, maximum=maximum)


WAV_ONLY = catalog_pb.Parameter(name="format", type=STRING, choices=["wav"])
PIPER = _speech("piper", "amy", _speed(2.0), WAV_ONLY)
ESPEAK = _speech("espeak", "espeak-ng", _speed(4.0))

MakeEndpoint = Callable[..., Endpoint]


@pytest.fixture
async def make() -> AsyncIterator[MakeEndpoint]:
    """Builds endpoints on distinct ports and closes their channels after the test."""
    made: list[Endpoint] = []

    def build(described: Catalog | None, **kwargs: Any) -> Endpoint:
        made.append(endpoint(41_000 + len(made), described, **kwargs))
        return made[-1]

    yield build
    for each in made:
        await each.channel.close()


def test_only_models_that_accept_the_options_are_candidates(make: MakeEndpoint) -> None:
    piper, espeak = make(PIPER, priority=10), make(ESPEAK)
    assert accepting([piper, espeak], Route(capability=TTS, options={"speed": 3.0})) == [espeak]
    assert accepting([piper, espeak], Route(capability=TTS, options={"format": "wav"})) == [piper]
    assert accepting([piper, espeak], Route(capability=TTS, options={"speed": 1.5})) == [piper, espeak]
    assert accepting([piper, espeak], Route(capability=TTS)) == [piper, espeak]


def test_a_named_provider_or_model_is_left_to_answer_for_itself(make: MakeEndpoint) -> None:
    piper = make(PIPER)
    assert accepting([piper], Route(capability=TTS, provider="piper", options={"speed": 3.0})) == [piper]
    assert accepting([piper], Route(capability=TTS, model="amy", options={"speed": 3.0})) == [piper]
    assert options_error([piper], Route(capability=TTS, provider="piper", options={"speed": 9.0})) is None


def test_the_error_names_each_provider_and_model_and_why(make: MakeEndpoint) -> None:
    pool = [make(PIPER), make(PIPER), make(ESPEAK)]  # two piper replicas refuse alike: said once
    error = options_error(pool, Route(capability=TTS, options={"speed": 5.0, "format": "mp3"}))
    assert error is not None
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
    assert list(error.field_violations) == [
        ("options.format", "espeak/espeak-ng: unknown option; accepted: speed"),
        ("options.format", "piper/amy: must be one of wav"),
        ("options.speed", "espeak/espeak-ng: must be at most 4"),
        ("options.speed", "piper/amy: must be at most 2"),
    ]


def test_options_a_provider_that_is_down_accepts_are_not_invalid(make: MakeEndpoint) -> None:
    pool = [make(PIPER), make(ESPEAK, state=router_pb.ENDPOINT_STATE_NOT_SERVING)]
    assert options_error(pool, Route(capability=TTS, options={"speed": 3.0})) is None


async def test_a_job_goes_to_the_one_that_accepts_whatever_the_priorities() -> None:
    router = Router(RouterSettings())
    try:
        piper = router.registry.add("127.0.0.1:41101", router_pb.DISCOVERY_SOURCE_STATIC, priority=10)
        espeak = router.registry.add("127.0.0.1:41102", router_pb.DISCOVERY_SOURCE_STATIC)
        for made, described in ((piper, PIPER), (espeak, ESPEAK)):
            made.state, made.catalog = router_pb.ENDPOINT_STATE_SERVING, described
        job = model_pb.EstimateCostRequest()
        fast = Route(capability=TTS, options={"speed": 3.0})
        assert await router.candidates(fast, job, None, wait_for_ready=False) == [espeak]
        assert (await router.candidates(Route(capability=TTS), job, None, False))[0] is piper
        with pytest.raises(PrizmError) as caught:
            await router.candidates(Route(capability=TTS, options={"speed": 9.0}), job, None, False)
        assert caught.value.reason == "INVALID_OPTIONS"
        assert [field for field, _ in caught.value.field_violations] == ["options.speed"] * 2
    finally:
        await router.close()


def test_route_options_come_from_the_request_struct() -> None:
    options = struct_pb2.Struct()
    options.update({"speed": 1.5, "voice": "amy"})
    route = route_of(TTS, "", None, router_pb.ROUTING_POLICY_PRIORITY, options)
    assert dict(route.options) == {"speed": 1.5, "voice": "amy"}
    assert dict(route_of(TTS, "", None, router_pb.ROUTING_POLICY_PRIORITY).options) == {}
