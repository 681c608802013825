"""Routing policy on real endpoints: who is eligible, in what order, and the error when none is."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.router.registry import Catalog, Endpoint
from prizm_core.router.routing import RETRY_AFTER_S, Route, eligible, no_candidate_error, order
from tests.unit.prizm_core.router.catalogs import STT, TTI, TTS, catalog, endpoint

SERVING = router_pb.ENDPOINT_STATE_SERVING
PENDING = router_pb.ENDPOINT_STATE_PENDING
NOT_SERVING = router_pb.ENDPOINT_STATE_NOT_SERVING
PRIORITY = router_pb.ROUTING_POLICY_PRIORITY
CHEAPEST = router_pb.ROUTING_POLICY_CHEAPEST
LEAST_LOADED = router_pb.ROUTING_POLICY_LEAST_LOADED

PIPER = catalog("piper", [("joe", [TTS]), ("amy", [TTS])], catalog_pb.PROVIDER_KIND_LOCAL)
SPHINX = catalog("pocketsphinx", [("en-us", [STT])], catalog_pb.PROVIDER_KIND_LOCAL)
VENDOR = catalog("vendor", [("voice-1", [TTS]), ("draw-1", [TTI])])
CONTAINER = catalog("boxed", [("joe", [TTS])], catalog_pb.PROVIDER_KIND_CONTAINER)

MakeEndpoint = Callable[..., Endpoint]


@pytest.fixture
async def make() -> AsyncIterator[MakeEndpoint]:
    """Builds endpoints on distinct ports and closes their channels after the test."""
    made: list[Endpoint] = []

    def build(described: Catalog | None, **kwargs: Any) -> Endpoint:
        made.append(endpoint(40_000 + len(made), described, **kwargs))
        return made[-1]

    yield build
    for each in made:
        await each.channel.close()


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - seeded for repeatable tie-breaks, not security


async def test_only_serving_endpoints_with_a_catalog_are_eligible(make: MakeEndpoint) -> None:
    good = make(PIPER)
    undescribed = make(None)
    pending = make(PIPER, state=PENDING)
    down = make(PIPER, state=NOT_SERVING)
    assert eligible([undescribed, pending, good, down], Route(capability=TTS)) == [good]


async def test_eligible_needs_the_capability(make: MakeEndpoint) -> None:
    piper, sphinx, vendor = make(PIPER), make(SPHINX), make(VENDOR)
    assert eligible([piper, sphinx, vendor], Route(capability=TTS)) == [piper, vendor]
    assert eligible([piper, sphinx, vendor], Route(capability=STT)) == [sphinx]
    assert eligible([piper, sphinx], Route(capability=TTI)) == []


async def test_provider_and_model_filters(make: MakeEndpoint) -> None:
    piper_a, piper_b, vendor = make(PIPER), make(PIPER), make(VENDOR)
    pool = [piper_a, vendor, piper_b]
    assert eligible(pool, Route(capability=TTS, provider="piper")) == [piper_a, piper_b]
    assert eligible(pool, Route(capability=TTS, model="voice-1")) == [vendor]
    assert eligible(pool, Route(capability=TTS, provider="piper", model="amy")) == [piper_a, piper_b]
    assert eligible(pool, Route(capability=TTS, provider="piper", model="voice-1")) == []
    # A model id that exists, but not with this capability, does not match.
    assert eligible(pool, Route(capability=TTS, model="draw-1")) == []


async def test_allow_fallback_relaxes_provider_and_model_only_when_nothing_matches(
    make: MakeEndpoint,
) -> None:
    piper_down = make(PIPER, state=NOT_SERVING)
    vendor, sphinx = make(VENDOR), make(SPHINX)
    pool = [piper_down, vendor, sphinx]
    assert eligible(pool, Route(capability=TTS, provider="piper")) == []
    assert eligible(pool, Route(capability=TTS, provider="piper", allow_fallback=True)) == [vendor]
    assert eligible(pool, Route(capability=TTS, model="nope", allow_fallback=True)) == [vendor]
    assert eligible(pool, Route(capability=TTS, model="nope")) == []
    # The fallback still needs the capability and a serving endpoint.
    assert eligible(pool, Route(capability=TTI, provider="piper", allow_fallback=True)) == [vendor]
    assert eligible([piper_down, sphinx], Route(capability=TTS, provider="x", allow_fallback=True)) == []
    # When the named provider can take it, no stand-in is added.
    piper_up = make(PIPER)
    assert eligible([*pool, piper_up], Route(capability=TTS, provider="piper", allow_fallback=True)) == [
        piper_up
    ]


@pytest.mark.parametrize("seed", range(10))
async def test_priority_orders_by_priority_then_local_then_load(make: MakeEndpoint, seed: int) -> None:
    remote_low = make(VENDOR, priority=0, in_flight=0)
    remote_high = make(VENDOR, priority=10, in_flight=0)
    local_busy = make(PIPER, priority=10, in_flight=9)
    local_idle = make(PIPER, priority=10, in_flight=1)
    container = make(CONTAINER, priority=10, in_flight=5)
    negative = make(PIPER, priority=-1, in_flight=0)
    pool = [remote_low, negative, remote_high, local_busy, container, local_idle]
    ordered = order(pool, Route(capability=TTS, policy=PRIORITY), rng=_rng(seed))
    assert ordered == [local_idle, container, local_busy, remote_high, remote_low, negative]


async def test_order_without_a_rng_still_orders(make: MakeEndpoint) -> None:
    low, high = make(PIPER, priority=1), make(PIPER, priority=2)
    assert order([low, high], Route(capability=TTS)) == [high, low]
    assert order([], Route(capability=TTS)) == []


@pytest.mark.parametrize("seed", range(20))
async def test_least_loaded_of_two_picks_the_less_loaded(make: MakeEndpoint, seed: int) -> None:
    busy, idle = make(PIPER, in_flight=3), make(PIPER, in_flight=1)
    route = Route(capability=TTS, policy=LEAST_LOADED)
    assert order([busy, idle], route, rng=_rng(seed)) == [idle, busy]


async def test_least_loaded_never_puts_the_most_loaded_first_and_spreads_over_idle(
    make: MakeEndpoint,
) -> None:
    idle_a, idle_b, busy = make(PIPER), make(PIPER), make(PIPER, in_flight=5)
    route = Route(capability=TTS, policy=LEAST_LOADED)
    firsts = []
    for seed in range(200):
        ordered = order([idle_a, busy, idle_b], route, rng=_rng(seed))
        assert sorted(map(id, ordered)) == sorted(map(id, [idle_a, idle_b, busy]))
        # Any two of three hold an idle endpoint, so the busy one can only be a failover.
        assert ordered[-1] is busy
        firsts.append(ordered[0])
    assert {id(e) for e in firsts} == {id(idle_a), id(idle_b)}


async def test_least_loaded_first_pick_is_the_lighter_of_a_pair(make: MakeEndpoint) -> None:
    loads = [0, 1, 2, 3]
    pool = [make(PIPER, in_flight=n) for n in loads]
    route = Route(capability=TTS, policy=LEAST_LOADED)
    first_loads = set()
    for seed in range(200):
        ordered = order(pool, route, rng=_rng(seed))
        first_loads.add(ordered[0].in_flight)
        # The failover list after the pick is by load.
        rest = [e.in_flight for e in ordered[1:]]
        assert rest == sorted(rest)
        assert sorted(e.in_flight for e in ordered) == loads
    # The heaviest is never lighter than its partner; every other load wins some pair.
    assert first_loads == {0, 1, 2}


async def test_least_loaded_with_one_candidate(make: MakeEndpoint) -> None:
    only = make(PIPER, in_flight=7)
    assert order([only], Route(capability=TTS, policy=LEAST_LOADED), rng=_rng(1)) == [only]


@pytest.mark.parametrize("seed", range(5))
async def test_cheapest_orders_by_cost_and_drops_providers_without_one(make: MakeEndpoint, seed: int) -> None:
    piper, vendor, boxed, sphinx = make(PIPER), make(VENDOR), make(CONTAINER), make(SPHINX)
    costs = {"vendor": 0.5, "piper": 0.0, "boxed": 0.25}
    ordered = order([vendor, sphinx, boxed, piper], Route(capability=TTS, policy=CHEAPEST), costs, _rng(seed))
    assert ordered == [piper, boxed, vendor]


@pytest.mark.parametrize("seed", range(5))
async def test_cheapest_breaks_ties_by_load(make: MakeEndpoint, seed: int) -> None:
    busy, idle, dear = make(PIPER, in_flight=4), make(PIPER, in_flight=0), make(VENDOR)
    ordered = order(
        [busy, dear, idle],
        Route(capability=TTS, policy=CHEAPEST),
        {"piper": 0.1, "vendor": 0.2},
        _rng(seed),
    )
    assert ordered == [idle, busy, dear]


async def test_costs_drop_unpriced_providers_under_every_policy(make: MakeEndpoint) -> None:
    # A max cost makes the router ask for estimates whatever the policy.
    piper, vendor = make(PIPER, priority=5), make(VENDOR)
    for policy in (PRIORITY, LEAST_LOADED):
        route = Route(capability=TTS, policy=policy, max_cost=media_pb.Cost(currency="USD", amount=1.0))
        assert route.needs_estimates
        assert order([piper, vendor], route, {"vendor": 0.3}, _rng(3)) == [vendor]


def test_needs_estimates() -> None:
    assert Route(capability=TTS, policy=CHEAPEST).needs_estimates
    assert not Route(capability=TTS, policy=PRIORITY).needs_estimates
    assert not Route(capability=TTS, policy=LEAST_LOADED).needs_estimates


async def test_unknown_provider_is_not_found(make: MakeEndpoint) -> None:
    pool = [make(VENDOR), make(PIPER), make(None, state=PENDING)]
    error = no_candidate_error(pool, Route(capability=TTS, provider="elevenlabs"))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "PROVIDER_NOT_FOUND")
    assert error.metadata == {"provider": "elevenlabs"}
    assert "known: piper, vendor" in error.message
    assert error.retry_after_s is None
    empty = no_candidate_error([], Route(capability=TTS, provider="piper"))
    assert "known: none" in empty.message


async def test_unknown_model_is_not_found(make: MakeEndpoint) -> None:
    pool = [make(VENDOR), make(PIPER)]
    error = no_candidate_error(pool, Route(capability=TTS, model="kate"))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "MODEL_NOT_FOUND")
    assert error.metadata == {"model": "kate", "capability": "text-to-audio"}
    # A model that exists only with another capability is not found for this one.
    other = no_candidate_error(pool, Route(capability=TTS, model="draw-1"))
    assert other.reason == "MODEL_NOT_FOUND"


async def test_capability_nobody_serves_is_a_failed_precondition(make: MakeEndpoint) -> None:
    pool = [make(PIPER), make(SPHINX, state=NOT_SERVING)]
    error = no_candidate_error(pool, Route(capability=TTI))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_PROVIDER_FOR_CAPABILITY")
    assert error.metadata == {"capability": "text-to-image"}
    assert error.message == "nothing in the mesh serves text-to-image"
    assert not error.retryable


async def test_capability_error_counts_providers_still_starting(make: MakeEndpoint) -> None:
    pool = [make(PIPER), make(None, state=PENDING), make(None, state=PENDING)]
    error = no_candidate_error(pool, Route(capability=STT))
    assert error.reason == "NO_PROVIDER_FOR_CAPABILITY"
    assert error.message.endswith("(2 provider(s) still starting)")
    assert no_candidate_error([], Route(capability=STT)).reason == "NO_PROVIDER_FOR_CAPABILITY"


async def test_every_provider_of_the_capability_down_is_unavailable_with_retry(make: MakeEndpoint) -> None:
    pool = [make(PIPER, state=NOT_SERVING), make(VENDOR, state=NOT_SERVING), make(SPHINX)]
    assert eligible(pool, Route(capability=TTS)) == []
    for route in (
        Route(capability=TTS),
        Route(capability=TTS, provider="piper"),
        Route(capability=TTS, model="amy"),
    ):
        error = no_candidate_error(pool, route)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "NO_HEALTHY_PROVIDER")
        assert error.retry_after_s == RETRY_AFTER_S == 1.0
        assert error.retryable
        assert error.metadata == {"capability": "text-to-audio"}


async def test_named_provider_without_the_capability_is_not_told_to_retry(make: MakeEndpoint) -> None:
    piper, sphinx = make(PIPER), make(SPHINX)
    route = Route(capability=STT, provider="piper")
    assert eligible([piper, sphinx], route) == []
    error = no_candidate_error([piper, sphinx], route)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_PROVIDER_FOR_CAPABILITY")
    assert error.message == "nothing in provider 'piper' serves audio-to-text"
    assert error.retry_after_s is None
