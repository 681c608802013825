"""Prizm's own metrics, their labels, the `/metrics` endpoint, the config section and the flags."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import grpc
import pytest
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb
from prometheus_client.parser import text_string_to_metric_families

from prizm_core.config import ConfigError, parse_config
from prizm_core.errors import PrizmError, Reason
from prizm_core.router.registry import Endpoint
from prizm_core.telemetry.exposition import MetricsConfig, serve_metrics
from prizm_core.telemetry.metrics import (
    ProviderMetrics,
    RouterMetrics,
    capability_label,
    code_name,
    outcome_of,
)
from provider_servers.sdk.harness import parse_settings
from tests.unit.prizm_core.telemetry.test_metrics_grpc import count

TEXT = media_pb.CAPABILITY_TEXT_TO_TEXT


def test_codes_are_named_as_go_grpc_prometheus_names_them() -> None:
    assert code_name(grpc.StatusCode.OK) == "OK"
    assert code_name(grpc.StatusCode.CANCELLED) == "Canceled"
    assert code_name(grpc.StatusCode.INVALID_ARGUMENT) == "InvalidArgument"
    assert code_name(grpc.StatusCode.DEADLINE_EXCEEDED) == "DeadlineExceeded"
    assert code_name(grpc.StatusCode.UNAVAILABLE) == "Unavailable"
    assert len({code_name(code) for code in grpc.StatusCode}) == len(grpc.StatusCode)


def test_capabilities_come_from_the_enum_only() -> None:
    assert capability_label(TEXT) == "text_to_text"
    assert capability_label(media_pb.CAPABILITY_UNSPECIFIED) == "other"
    assert capability_label(9999) == "other"


def test_outcomes() -> None:
    assert outcome_of(None) == "OK"
    refused = PrizmError(grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_OPTIONS, "no")
    assert outcome_of(refused) == "InvalidArgument"
    assert outcome_of(asyncio.CancelledError()) == "Canceled"
    assert outcome_of(GeneratorExit()) == "Canceled"
    assert outcome_of(RuntimeError("boom")) == "Internal"


async def test_a_job_is_counted_once_with_its_outcome_provider_model_and_cost() -> None:
    metrics = RouterMetrics()
    endpoint = Endpoint(address="127.0.0.1:1", source=router_pb.DISCOVERY_SOURCE_STATIC)
    completion = model_pb.TransformResponse(
        job_id="job-1", completion=job_pb.Completion(cost=media_pb.Cost(currency="USD", amount=0.5))
    )
    with metrics.job(TEXT) as record:
        record.attempt(endpoint, TEXT, "caller-named-model", 10)
        record.attempt(endpoint, TEXT, "", 10)  # a failover
        record.event(completion.SerializeToString())
    await endpoint.channel.close()
    registry = metrics.registry
    # No catalog: neither the provider nor the caller's model name is trusted as a label.
    assert count(registry, "prizm_jobs_total", provider="other", model="other", outcome="OK") == 1
    assert count(registry, "prizm_failovers_total", capability="text_to_text") == 1
    assert count(registry, "prizm_cost_total", provider="other", currency="USD") == 0.5
    assert count(registry, "prizm_relayed_bytes_total", direction="to_provider") == 20
    assert count(registry, "prizm_job_queue_wait_seconds_count") == 1
    assert count(registry, "prizm_job_time_to_first_event_seconds_count") == 1


def test_router_refusals_count_as_admission_rejections_by_reason() -> None:
    metrics = RouterMetrics()
    for reason in (Reason.ROUTER_OVERLOADED, Reason.CALLER_CONCURRENCY_EXCEEDED, Reason.ROUTER_OVERLOADED):
        with pytest.raises(PrizmError), metrics.job(TEXT):
            raise PrizmError(grpc.StatusCode.RESOURCE_EXHAUSTED, reason, "busy")
    registry = metrics.registry
    assert count(registry, "prizm_admission_rejections_total", reason="ROUTER_OVERLOADED") == 2
    assert count(registry, "prizm_admission_rejections_total", reason="CALLER_CONCURRENCY_EXCEEDED") == 1
    assert count(registry, "prizm_jobs_total", provider="none", outcome="ResourceExhausted") == 3


def test_endpoint_states_are_read_at_scrape_time() -> None:
    states = [router_pb.ENDPOINT_STATE_SERVING, router_pb.ENDPOINT_STATE_SERVING]
    metrics = RouterMetrics(lambda: states)
    assert count(metrics.registry, "prizm_endpoints", state="serving") == 2
    states.append(router_pb.ENDPOINT_STATE_EJECTED)
    assert count(metrics.registry, "prizm_endpoints", state="ejected") == 1
    assert count(metrics.registry, "prizm_endpoints", state="not_serving") == 0


def test_a_provider_labels_only_the_models_it_lists() -> None:
    metrics = ProviderMetrics()
    with metrics.job(TEXT, "listed", {"listed"}):
        pass
    with pytest.raises(RuntimeError), metrics.job(TEXT, "whatever-a-caller-said", {"listed"}):
        raise RuntimeError("boom")
    assert count(metrics.registry, "prizm_provider_jobs_total", model="listed", outcome="OK") == 1
    assert count(metrics.registry, "prizm_provider_jobs_total", model="other", outcome="Internal") == 1


def test_each_process_has_its_own_registry() -> None:
    first, second = RouterMetrics(), RouterMetrics()
    with first.job(TEXT):
        pass
    assert count(first.registry, "prizm_jobs_total") == 1
    assert count(second.registry, "prizm_jobs_total") == 0


def test_metrics_are_served_over_http_on_loopback() -> None:
    metrics = RouterMetrics()
    with metrics.job(TEXT):
        pass
    server = serve_metrics(MetricsConfig(port=0), metrics.registry)
    assert server is not None
    try:
        host, port = server.address.rsplit(":", 1)
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            families = {f.name: f for f in text_string_to_metric_families(answer.read().decode())}
        assert families["prizm_jobs"].samples[0].value == 1
        assert "grpc_server_handled" in families and "process_cpu_seconds" in families
    finally:
        server.close()
    with socket.socket() as probe:  # the port is free again (TIME_WAIT is no obstacle, as for gRPC)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(port)))


def test_metrics_are_off_without_a_port() -> None:
    assert serve_metrics(MetricsConfig(), RouterMetrics().registry) is None
    assert parse_config({}, "r.yaml").metrics == MetricsConfig()


def test_a_port_in_use_is_refused_with_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            serve_metrics(MetricsConfig(port=port), RouterMetrics().registry)


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"port": "9100"}, "r.yaml: metrics.port: Input should be a valid integer"),
        ({"port": 70000}, "r.yaml: metrics.port: Input should be less than or equal to 65535"),
        ({"prot": 9100}, "r.yaml: metrics.prot: Extra inputs are not permitted"),
        ("9100", "r.yaml: metrics: Input should be a valid dictionary"),
    ],
)
def test_config_errors_name_the_key(section: object, error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"metrics": section}, "r.yaml")
    assert str(refused.value).startswith(error)


def test_the_config_section_and_the_provider_flags() -> None:
    config = parse_config({"metrics": {"port": 9100, "host": "0.0.0.0"}}, "r.yaml").metrics  # noqa: S104
    assert (config.host, config.port, config.enabled) == ("0.0.0.0", 9100, True)  # noqa: S104
    assert parse_settings("synthetic", []).metrics.enabled is False
    flagged = parse_settings("synthetic", ["--metrics-port", "0", "--metrics-host", "::1"]).metrics
    assert (flagged.host, flagged.port) == ("::1", 0)
    with pytest.raises(SystemExit):
        parse_settings("synthetic", ["--metrics-port", "99999"])
