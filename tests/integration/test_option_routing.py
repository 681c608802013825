"""Routing by options: with no provider named, a job goes only to a model whose schema accepts it."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError
from provider_servers.synthetic.provider import synthetic_output
from tests.support.control import status
from tests.support.mesh import wait_routable
from tests.support.processes import ServerProcess, start_provider, start_router


async def _finished(providers: list[ServerProcess]) -> list[int]:
    return [int((await status(p.address)).finished_jobs) for p in providers]


def _config(path: Path, entries: list[tuple[str, int]]) -> Path:
    lines = [f"  - {{address: '{address}', priority: {priority}}}" for address, priority in entries]
    path.write_text("providers:\n" + "\n".join(lines) + "\n")
    return path


async def test_a_job_goes_to_the_provider_whose_schema_accepts_its_options(tmp_path: Path) -> None:
    # `narrow` is preferred (priority 10) but takes at most 5 events; `wide` takes up to 100,000.
    narrow = start_provider(
        "synthetic", env={"PRIZM_SYNTHETIC_ID": "narrow", "PRIZM_SYNTHETIC_MAX_EVENTS": "5"}
    )
    wide = start_provider("synthetic", env={"PRIZM_SYNTHETIC_ID": "wide"})
    router = start_router(_config(tmp_path / "router.yaml", [(narrow.address, 10), (wide.address, 0)]))
    try:
        await wait_routable(router.address, 2)
        async with PrizmClient(router.address) as client:
            many = await client.run("text-to-text", "many", options={"events": 50}, timeout=30)
            assert many.outputs[0].data == synthetic_output(b"many", 1024)
            assert await _finished([narrow, wide]) == [0, 1]
            # Options both accept: priority decides, as before.
            await client.run("text-to-text", "few", options={"events": 3}, timeout=30)
            assert await _finished([narrow, wide]) == [1, 1]
            with pytest.raises(PrizmError) as refused:
                await client.run("text-to-text", "x", options={"events": 200_000}, timeout=30)
            # Naming a provider leaves the answer to that provider's own validation.
            named = router_pb.RoutingHints(provider="narrow")
            with pytest.raises(PrizmError) as own:
                await client.run("text-to-text", "x", options={"events": 50}, routing=named, timeout=30)
        assert await _finished([narrow, wide]) == [1, 1]
    finally:
        for server in (router, narrow, wide):
            server.stop()
    error = refused.value
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
    assert sorted(error.field_violations) == [
        ("options.events", "narrow/synthetic-v1: must be at most 5"),
        ("options.events", "wide/synthetic-v1: must be at most 100000"),
    ]
    assert (own.value.code, own.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
    assert list(own.value.field_violations) == [("options.events", "must be at most 5")]
