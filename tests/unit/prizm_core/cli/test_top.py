"""`prizm top`'s arithmetic and screen: rates from two scrapes, the mesh from watch events."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import router_service_pb2 as router_pb
from rich.console import Console

from prizm_core.cli.top import Mesh, parse_scrape, rates, view

_BEFORE = """\
# TYPE prizm_jobs_total counter
prizm_jobs_total{capability="text-to-audio",provider="piper",model="joe",outcome="OK"} 10.0
prizm_jobs_total{capability="text-to-audio",provider="piper",model="joe",outcome="Unavailable"} 1.0
# TYPE prizm_failovers_total counter
prizm_failovers_total{capability="text-to-audio"} 2.0
# TYPE prizm_relayed_bytes_total counter
prizm_relayed_bytes_total{direction="to_caller"} 1000.0
prizm_relayed_bytes_total{direction="to_provider"} 99999.0
# TYPE grpc_server_started_total counter
grpc_server_started_total{grpc_method="Transform",grpc_service="x",grpc_type="server_stream"} 5.0
"""
_AFTER = """\
# TYPE prizm_jobs_total counter
prizm_jobs_total{capability="text-to-audio",provider="piper",model="joe",outcome="OK"} 30.0
prizm_jobs_total{capability="text-to-audio",provider="piper",model="joe",outcome="Unavailable"} 5.0
prizm_jobs_total{capability="text-to-audio",provider="espeak",model="en",outcome="OK"} 4.0
# TYPE prizm_failovers_total counter
prizm_failovers_total{capability="text-to-audio"} 1.0
# TYPE prizm_admission_rejections_total counter
prizm_admission_rejections_total{reason="ROUTER_OVERLOADED"} 6.0
# TYPE prizm_relayed_bytes_total counter
prizm_relayed_bytes_total{direction="to_caller"} 5000.0
prizm_relayed_bytes_total{direction="to_provider"} 0.0
"""


def test_rates_are_increases_per_second_by_provider() -> None:
    found = rates(parse_scrape(_BEFORE, at=100.0), parse_scrape(_AFTER, at=102.0))
    assert found.jobs == {"piper": (20 + 4) / 2, "espeak": 4 / 2}
    assert found.failed == {"piper": 4 / 2}
    assert found.rejections == 6 / 2  # a counter not there before started at 0
    assert found.bytes_out == 4000 / 2  # only what went to callers
    # A counter that went down was reset (a restarted router): its new value is the increase.
    assert found.failovers == 1 / 2


def test_only_the_job_counters_are_kept() -> None:
    names = {name for name, _ in parse_scrape(_BEFORE, at=0.0).samples}
    assert names == {"prizm_jobs_total", "prizm_failovers_total", "prizm_relayed_bytes_total"}


def _endpoint(address: str, provider: str, state: int, in_flight: int = 0) -> router_pb.ProviderEndpoint:
    return router_pb.ProviderEndpoint(
        address=address,
        provider=catalog_pb.ProviderInfo(id=provider),
        state=state,  # type: ignore[arg-type]
        in_flight=in_flight,
        state_since=Timestamp(seconds=1_000),
        detail="" if state == router_pb.ENDPOINT_STATE_SERVING else "health check failed",
    )


def test_the_mesh_follows_watch_events() -> None:
    mesh = Mesh()
    added = router_pb.ENDPOINT_CHANGE_ADDED
    mesh.apply(router_pb.WatchProvidersResponse(change=added, endpoint=_endpoint("a:1", "piper", 1)))
    mesh.apply(router_pb.WatchProvidersResponse(change=added, endpoint=_endpoint("b:2", "espeak", 1)))
    updated = _endpoint("a:1", "piper", router_pb.ENDPOINT_STATE_NOT_SERVING)
    mesh.apply(router_pb.WatchProvidersResponse(change=router_pb.ENDPOINT_CHANGE_UPDATED, endpoint=updated))
    gone = _endpoint("b:2", "espeak", 1)
    mesh.apply(router_pb.WatchProvidersResponse(change=router_pb.ENDPOINT_CHANGE_REMOVED, endpoint=gone))
    assert list(mesh.endpoints) == ["a:1"]
    assert mesh.endpoints["a:1"].state == router_pb.ENDPOINT_STATE_NOT_SERVING


def test_the_screen_shows_states_load_and_rates() -> None:
    mesh = Mesh()
    mesh.replace(
        [
            _endpoint("127.0.0.1:2", "piper", router_pb.ENDPOINT_STATE_SERVING, in_flight=3),
            _endpoint("127.0.0.1:1", "espeak", router_pb.ENDPOINT_STATE_NOT_SERVING),
        ]
    )
    found = rates(parse_scrape(_BEFORE, at=0.0), parse_scrape(_AFTER, at=2.0))
    console = Console(width=160, record=True)
    console.print(view("127.0.0.1:50051", mesh, found, now_s=1_075.0))
    lines = console.export_text().splitlines()
    assert lines[0].startswith(
        "router 127.0.0.1:50051 · 1/2 endpoints serving · 3 jobs in flight · 14.0 jobs/s"
    )
    espeak, piper = (line.split() for line in lines[2:4])  # sorted by provider
    assert espeak[:7] == ["espeak", "127.0.0.1:1", "not-serving", "1m15s", "0", "2.0", "0.0"]
    assert piper == ["piper", "127.0.0.1:2", "serving", "1m15s", "3", "12.0", "2.0"]
