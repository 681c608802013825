"""The registry: idempotent adds, the watch stream of changes, and waiting for a change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.router.registry import Catalog, Endpoint, Registry
from tests.unit.prizm_core.router.catalogs import TTS, catalog

STATIC = router_pb.DISCOVERY_SOURCE_STATIC
SIDECAR = router_pb.DISCOVERY_SOURCE_SIDECAR
ADDED = router_pb.ENDPOINT_CHANGE_ADDED
UPDATED = router_pb.ENDPOINT_CHANGE_UPDATED
REMOVED = router_pb.ENDPOINT_CHANGE_REMOVED
PENDING = router_pb.ENDPOINT_STATE_PENDING
SERVING = router_pb.ENDPOINT_STATE_SERVING
NOT_SERVING = router_pb.ENDPOINT_STATE_NOT_SERVING
DRAINING = router_pb.ENDPOINT_STATE_DRAINING

PIPER = catalog("piper", [("joe", [TTS])])


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    """A registry whose channels are closed after the test."""
    made = Registry()
    yield made
    await made.close()


def _report(
    registry: Registry, endpoint: Endpoint, state: int, detail: str = "", catalog: Catalog | None = None
) -> None:
    """What the health monitor does with a provider's report."""
    endpoint.signals.report(state, detail)  # type: ignore[arg-type]
    registry.refresh(endpoint, catalog)


def _drain(queue: asyncio.Queue[router_pb.WatchProvidersResponse]) -> list[tuple[int, str, int]]:
    events: list[tuple[int, str, int]] = []
    while not queue.empty():
        event = queue.get_nowait()
        events.append((event.change, event.endpoint.address, event.endpoint.state))
    return events


async def test_add_is_idempotent(registry: Registry) -> None:
    first = registry.add("127.0.0.1:41001", STATIC, priority=5)
    again = registry.add("127.0.0.1:41001", SIDECAR, priority=9)
    assert again is first
    assert (again.source, again.priority, again.state) == (STATIC, 5, PENDING)
    assert list(registry) == [first]
    assert registry.get("127.0.0.1:41001") is first
    assert registry.get("127.0.0.1:41002") is None


async def test_watch_starts_with_a_snapshot_then_streams_changes(registry: Registry) -> None:
    a = registry.add("127.0.0.1:41001", STATIC, priority=3)
    queue = registry.watch()
    [snapshot] = [queue.get_nowait()]
    assert snapshot.change == ADDED
    assert (snapshot.endpoint.address, snapshot.endpoint.priority) == ("127.0.0.1:41001", 3)
    assert snapshot.endpoint.state == PENDING
    assert snapshot.endpoint.source == STATIC
    assert not snapshot.endpoint.HasField("provider")

    _report(registry, a, SERVING, catalog=PIPER)
    update = queue.get_nowait()
    assert update.change == UPDATED
    assert (update.endpoint.state, update.endpoint.detail) == (SERVING, "")
    assert update.endpoint.provider.id == "piper"
    assert a.routable

    b = registry.add("127.0.0.1:41002", SIDECAR)
    _report(registry, a, NOT_SERVING, "health check failed")
    await registry.remove(b.address)
    assert _drain(queue) == [
        (ADDED, "127.0.0.1:41002", PENDING),
        (UPDATED, "127.0.0.1:41001", NOT_SERVING),
        (REMOVED, "127.0.0.1:41002", PENDING),
    ]
    assert not a.routable
    assert list(registry) == [a]


async def test_every_watcher_gets_every_change_until_unwatched(registry: Registry) -> None:
    first, second = registry.watch(), registry.watch()
    a = registry.add("127.0.0.1:41001", STATIC)
    registry.unwatch(second)
    _report(registry, a, SERVING, catalog=PIPER)
    assert _drain(first) == [(ADDED, "127.0.0.1:41001", PENDING), (UPDATED, "127.0.0.1:41001", SERVING)]
    assert _drain(second) == [(ADDED, "127.0.0.1:41001", PENDING)]


async def test_pending_endpoint_reporting_not_serving_stays_pending_silently(registry: Registry) -> None:
    a = registry.add("127.0.0.1:41001", STATIC)
    queue = registry.watch()
    queue.get_nowait()
    since = a.state_since
    _report(registry, a, NOT_SERVING, "warming up")
    assert (a.state, a.detail, a.state_since) == (PENDING, "warming up", since)
    assert not a.routable
    assert queue.empty()


async def test_same_state_updates_detail_without_an_event(registry: Registry) -> None:
    a = registry.add("127.0.0.1:41001", STATIC)
    _report(registry, a, SERVING, catalog=PIPER)
    _report(registry, a, NOT_SERVING, "health: NOT_SERVING")
    queue = registry.watch()
    queue.get_nowait()
    _report(registry, a, NOT_SERVING, "unreachable: UNAVAILABLE")
    assert (a.state, a.detail) == (NOT_SERVING, "unreachable: UNAVAILABLE")
    assert queue.empty()
    # A fresh catalog is a change even when the state is not.
    _report(registry, a, SERVING, catalog=PIPER)
    queue.get_nowait()
    _report(registry, a, SERVING, catalog=catalog("piper", [("amy", [TTS])]))
    assert _drain(queue) == [(UPDATED, "127.0.0.1:41001", SERVING)]
    assert a.catalog is not None
    assert [m.id for m in a.catalog.models] == ["amy"]


async def test_remove_closes_the_channel_and_forgets_the_endpoint(registry: Registry) -> None:
    a = registry.add("127.0.0.1:41001", STATIC)
    queue = registry.watch()
    queue.get_nowait()
    await registry.remove(a.address)
    assert a.channel.get_state() == grpc.ChannelConnectivity.SHUTDOWN
    assert registry.get(a.address) is None
    assert _drain(queue) == [(REMOVED, "127.0.0.1:41001", PENDING)]
    await registry.remove(a.address)
    assert queue.empty()


async def test_wait_changed_returns_on_a_change(registry: Registry) -> None:
    a = registry.add("127.0.0.1:41001", STATIC)
    await asyncio.sleep(0)  # let the add's own notification pass
    waiter = asyncio.create_task(registry.wait_changed(timeout=30))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    _report(registry, a, SERVING, catalog=PIPER)
    await asyncio.wait_for(waiter, timeout=5)
    assert waiter.done()
    assert waiter.exception() is None


async def test_wait_changed_returns_after_the_timeout_without_a_change(registry: Registry) -> None:
    registry.add("127.0.0.1:41001", STATIC)
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(registry.wait_changed(timeout=0.05), timeout=5)
    assert loop.time() - started >= 0.04


async def test_close_closes_every_channel() -> None:
    registry = Registry()
    a = registry.add("127.0.0.1:41001", STATIC)
    b = registry.add("127.0.0.1:41002", STATIC)
    await registry.close()
    assert a.channel.get_state() == grpc.ChannelConnectivity.SHUTDOWN
    assert b.channel.get_state() == grpc.ChannelConnectivity.SHUTDOWN


async def test_a_draining_endpoint_is_not_routable_and_says_why(registry: Registry) -> None:
    endpoint = registry.add("127.0.0.1:1", STATIC)
    _report(registry, endpoint, SERVING, catalog=PIPER)
    queue = registry.watch()
    _drain(queue)
    assert registry.drain("127.0.0.1:1", "deregistered") is endpoint
    assert not endpoint.routable and endpoint.detail == "deregistered"
    assert _drain(queue) == [(UPDATED, "127.0.0.1:1", DRAINING)]
    _report(registry, endpoint, SERVING)  # what health says no longer matters
    assert endpoint.state == DRAINING
    assert registry.drain("127.0.0.1:9", "gone") is None


async def test_an_endpoint_found_again_while_draining_starts_over_as_pending(registry: Registry) -> None:
    endpoint = registry.add("127.0.0.1:1", STATIC)
    _report(registry, endpoint, SERVING, catalog=PIPER)
    registry.drain("127.0.0.1:1", "gone from DNS")
    again = registry.add("127.0.0.1:1", SIDECAR, priority=3)
    assert again is endpoint and not again.draining
    assert (again.state, again.source, again.priority) == (PENDING, SIDECAR, 3)
    _report(registry, again, SERVING, catalog=PIPER)
    assert again.routable


async def test_the_idle_event_follows_the_jobs_in_flight(registry: Registry) -> None:
    endpoint = registry.add("127.0.0.1:1", STATIC)
    assert endpoint.idle.is_set()
    endpoint.begin_call()
    endpoint.begin_call()
    endpoint.end_call()
    assert not endpoint.idle.is_set() and endpoint.in_flight == 1
    endpoint.end_call()
    assert endpoint.idle.is_set() and endpoint.in_flight == 0


def test_a_provider_that_runs_unlisted_models_takes_a_model_no_one_lists() -> None:
    fal = catalog("fal", [("fal-ai/flux/schnell", [TTS])])
    assert fal.model_for(TTS, "fal-ai/new/model") is None
    fal.info.runs_unlisted_models = True
    unlisted = fal.model_for(TTS, "fal-ai/new/model")
    assert unlisted is not None and (unlisted.id, unlisted.message.provider_id) == ("fal-ai/new/model", "fal")
    assert unlisted.capabilities == frozenset({TTS})
    # The default, and a listed model, stay what the list says.
    assert fal.model_for(TTS) == fal.model_for(TTS, "fal-ai/flux/schnell") == fal.models[0]
    assert fal.model_for(TTS, "fal-ai/new/model") is not None and fal.model_for(TTS, "") == fal.models[0]
