"""Cost across local and remote providers of one capability: `cheapest` takes the cheaper, and
`max_cost` refuses a job whose estimate is above it before any vendor is called."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.contract.discovery import load_environment
from provider_servers.elevenlabs.fake import ElevenLabsFake
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider
from tests.support.remote import canary_key, prioritized_router, remote_provider

TEXT = "Which provider says this depends on what it costs."
ELEVENLABS_PER_CHARACTER = 0.10 / 1000  # Multilingual v2, its default model
CHEAPEST = router_pb.RoutingHints(policy=router_pb.ROUTING_POLICY_CHEAPEST)


def _posts(fake: ElevenLabsFake) -> int:
    return len([call for call in fake.calls if call.method == "POST"])


@pytest.fixture
def elevenlabs() -> Iterator[tuple[ElevenLabsFake, ServerProcess]]:
    """The ElevenLabs provider in front of its fake."""
    with (
        ElevenLabsFake(canary_key()) as fake,
        remote_provider(
            "elevenlabs", "ELEVENLABS_API_KEY", fake.api_key, ELEVENLABS_BASE_URL=fake.url
        ) as server,
    ):
        yield fake, server


@contextlib.contextmanager
def _openai() -> Iterator[ServerProcess]:
    """The OpenAI provider in front of the fake its contract cases run against."""
    if "openai" not in {point.name for point in entry_points(group="prizm.providers")}:
        pytest.skip("the openai provider is not installed")
    environment = load_environment("openai")
    assert environment is not None, "the openai contract cases define no environment()"
    with environment() as variables:
        server = start_provider("openai", env=variables)
        try:
            yield server
        finally:
            server.stop()


async def test_cheapest_takes_free_piper_over_priced_elevenlabs(
    tmp_path: Path, elevenlabs: tuple[ElevenLabsFake, ServerProcess], piper: ServerProcess
) -> None:
    fake, remote = elevenlabs
    with prioritized_router(tmp_path, (remote.address, 10), (piper.address, 0)) as router:
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address, max_attempts=1) as client:
            cheap = await client.run("text-to-audio", TEXT, routing=CHEAPEST, timeout=60)
            assert (cheap.outputs[0].provenance.provider_id, cheap.cost.amount, _posts(fake)) == (
                "piper",
                0.0,
                0,
            )
            # Without the policy, priority sends it to ElevenLabs, at its price.
            dear = await client.run("text-to-audio", TEXT, timeout=60)
    assert dear.outputs[0].provenance.provider_id == "elevenlabs" and _posts(fake) == 1
    assert dear.cost.amount == pytest.approx(len(TEXT) * ELEVENLABS_PER_CHARACTER)


async def test_cheapest_and_max_cost_choose_between_two_priced_vendors(
    tmp_path: Path, elevenlabs: tuple[ElevenLabsFake, ServerProcess]
) -> None:
    fake, remote = elevenlabs
    dear_estimate = len(TEXT) * ELEVENLABS_PER_CHARACTER
    with (
        _openai() as openai,
        prioritized_router(tmp_path, (remote.address, 10), (openai.address, 0)) as router,
    ):
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address, max_attempts=1) as client:
            cheap = await client.run("text-to-audio", TEXT, routing=CHEAPEST, timeout=60)
            assert cheap.outputs[0].provenance.provider_id == "openai"
            assert 0 < cheap.cost.amount < dear_estimate and _posts(fake) == 0
            # Priority prefers ElevenLabs, unless the caller's ceiling rules it out.
            ceiling = router_pb.RoutingHints(max_cost=media_pb.Cost(currency="USD", amount=dear_estimate / 2))
            capped = await client.run("text-to-audio", TEXT, routing=ceiling, timeout=60)
        assert (await status(openai.address)).finished_jobs == 2
    assert capped.outputs[0].provenance.provider_id == "openai" and _posts(fake) == 0


async def test_max_cost_refuses_a_job_dearer_than_it_before_any_call(
    tmp_path: Path, elevenlabs: tuple[ElevenLabsFake, ServerProcess]
) -> None:
    fake, remote = elevenlabs
    estimate = len(TEXT) * ELEVENLABS_PER_CHARACTER
    with prioritized_router(tmp_path, (remote.address, 0)) as router:
        await wait_routable(router.address, 1)
        ceiling = router_pb.RoutingHints(max_cost=media_pb.Cost(currency="USD", amount=estimate * 0.9))
        async with PrizmClient(router.address, max_attempts=1) as client:
            with pytest.raises(PrizmError) as refused:
                await client.run("text-to-audio", TEXT, routing=ceiling, timeout=30)
            assert (refused.value.code.name, refused.value.reason) == (
                "FAILED_PRECONDITION",
                "MAX_COST_EXCEEDED",
            )
            assert _posts(fake) == 0
            enough = router_pb.RoutingHints(max_cost=media_pb.Cost(currency="USD", amount=estimate * 1.1))
            result = await client.run("text-to-audio", TEXT, routing=enough, timeout=30)
    assert result.cost.amount == pytest.approx(estimate) and _posts(fake) == 1
