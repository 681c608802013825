"""Prometheus metrics of one Prizm process: gRPC server and client families, and Prizm's own.

Every process keeps its metrics in a `CollectorRegistry` of its own, never prometheus_client's
global one: tests run several routers and providers in one interpreter, where a global registry
would refuse the second set of families and mix their counts. The exposition server is handed
that registry.

Label values are bounded: gRPC names come from the server's own descriptors, capabilities from
the enum, providers and models only from the router's registry (a name it does not list is
`other`), codes from gRPC's table. No job id or caller-supplied string is ever a label.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING

import grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prizm_core.router.registry import Endpoint

__all__ = [
    "OTHER",
    "GrpcMetrics",
    "JobRecord",
    "ProcessMetrics",
    "ProviderMetrics",
    "RouterMetrics",
    "capability_label",
    "code_name",
    "model_label",
    "outcome_of",
    "provider_label",
]

# A provider or model the registry does not list; also a job that never reached one ("none").
OTHER = "other"
NONE = "none"
# go-grpc-prometheus's default buckets (Prometheus's DefBuckets), so dashboards' quantiles match.
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Media jobs run from milliseconds (synthetic) to minutes (video): wider than RPC_BUCKETS.
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_RPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
_CURRENCY = re.compile(r"[A-Z]{3}")
# grpc-go's `codes.Code.String()`, which go-grpc-prometheus writes as `grpc_code` (note `Canceled`).
_CODE_NAMES = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}


def code_name(code: grpc.StatusCode) -> str:
    """A status code as go-grpc-prometheus labels it: `OK`, `InvalidArgument`, `Canceled`, ..."""
    return _CODE_NAMES.get(code, "Unknown")


def capability_label(capability: int) -> str:
    """`CAPABILITY_TEXT_TO_SPEECH` -> `text_to_speech`; a value the enum lacks -> `other`."""
    if capability == media_pb.CAPABILITY_UNSPECIFIED or capability not in media_pb.Capability.values():
        return OTHER
    return media_pb.Capability.Name(capability).removeprefix("CAPABILITY_").lower()  # type: ignore[arg-type]


def model_label(endpoint: Endpoint, capability: int, model: str) -> str:
    """The model a job runs on, as the provider's catalog lists it; `other` when it lists none such."""
    catalog = endpoint.catalog
    if catalog is None:
        return OTHER
    if not model:
        chosen = catalog.model_for(capability)
        return chosen.id if chosen is not None else OTHER
    return model if any(entry.id == model for entry in catalog.models) else OTHER


def provider_label(endpoint: Endpoint) -> str:
    """The provider id of an endpoint from its catalog (what the registry knows), else `other`."""
    return endpoint.catalog.provider_id if endpoint.catalog is not None else OTHER


class GrpcMetrics:
    """The go-grpc-prometheus families, server and client side, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        for side in ("server", "client"):
            started = Counter(
                f"grpc_{side}_started_total", f"RPCs started on the {side}.", _RPC_LABELS, registry=registry
            )
            handled = Counter(
                f"grpc_{side}_handled_total",
                f"RPCs completed on the {side}, whatever their status.",
                (*_RPC_LABELS, "grpc_code"),
                registry=registry,
            )
            seconds = Histogram(
                f"grpc_{side}_handling_seconds",
                f"Time from the start of an RPC to its status, on the {side}.",
                _RPC_LABELS,
                buckets=RPC_BUCKETS,
                registry=registry,
            )
            received = Counter(
                f"grpc_{side}_msg_received_total",
                f"Stream messages received on the {side}.",
                _RPC_LABELS,
                registry=registry,
            )
            sent = Counter(
                f"grpc_{side}_msg_sent_total",
                f"Stream messages sent on the {side}.",
                _RPC_LABELS,
                registry=registry,
            )
            setattr(self, side, (started, handled, seconds, received, sent))
        self.server: tuple[Counter, Counter, Histogram, Counter, Counter]
        self.client: tuple[Counter, Counter, Histogram, Counter, Counter]


class ProcessMetrics:
    """A process's registry with the gRPC families and the standard process collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.grpc = GrpcMetrics(self.registry)


class _EndpointStates(Collector):
    """`prizm_endpoints{state}`, read from the registry at scrape time so it is never stale.

    `states` runs on the exposition server's thread, so it must only read: the router's registry
    copies its endpoints in one C-level step, atomic under the GIL.
    """

    def __init__(self, states: Callable[[], Iterable[int]]) -> None:
        self.states = states

    def collect(self) -> Iterable[Metric]:
        counts: dict[int, int] = dict.fromkeys(router_pb.EndpointState.values(), 0)
        for state in self.states():
            counts[state] = counts.get(state, 0) + 1
        family = GaugeMetricFamily("prizm_endpoints", "Provider endpoints by state.", labels=["state"])
        for state, count in sorted(counts.items()):
            if state == router_pb.ENDPOINT_STATE_UNSPECIFIED:
                continue
            name = (
                router_pb.EndpointState.Name(router_pb.EndpointState.ValueType(state))
                .removeprefix("ENDPOINT_STATE_")
                .lower()
            )
            family.add_metric([name], count)
        yield family


class JobRecord:
    """What the metrics learn about one routed job as it goes; `RouterMetrics.job` finishes it."""

    def __init__(self, metrics: RouterMetrics, capability: int) -> None:
        self.metrics = metrics
        self.capability = capability_label(capability)
        self.provider = NONE
        self.model = NONE
        self.started = time.monotonic()
        self.first_call: float | None = None
        self.first_event: float | None = None
        self.last_event = b""

    def attempt(self, endpoint: Endpoint, capability: int, model: str, payload_bytes: int) -> None:
        """A call to `endpoint` begins: the first ends the queue wait, any later one is a failover
        (another provider after a refusal or a crash before the first event, or an allowed restart)."""
        now = time.monotonic()
        if self.first_call is None:
            self.first_call = now
            self.metrics.queue_wait.labels(self.capability).observe(now - self.started)
        else:
            self.metrics.failovers.labels(self.capability).inc()
        self.provider = provider_label(endpoint)
        self.model = model_label(endpoint, capability, model)
        self.metrics.relayed_bytes.labels("to_provider").inc(payload_bytes)

    def event(self, message: bytes) -> None:
        """An event went to the caller."""
        if self.first_event is None:
            self.first_event = time.monotonic()
            self.metrics.first_event.labels(self.capability, self.provider).observe(
                self.first_event - self.started
            )
        self.last_event = message
        self.metrics.relayed_bytes.labels("to_caller").inc(len(message))

    def finish(self, outcome: str) -> None:
        """Counts the job with its outcome, its duration, and its cost once it completed."""
        metrics = self.metrics
        metrics.jobs.labels(self.capability, self.provider, self.model, outcome).inc()
        metrics.job_seconds.labels(self.capability, self.provider).observe(time.monotonic() - self.started)
        if outcome == "OK" and self.last_event:
            cost = model_pb.TransformResponse.FromString(self.last_event).completion.cost
            if cost.amount > 0:
                currency = cost.currency if _CURRENCY.fullmatch(cost.currency) else OTHER
                metrics.cost.labels(self.provider, currency).inc(cost.amount)


def outcome_of(exc: BaseException | None) -> str:
    """The final status of a job as a code name: `OK` without an exception, `Canceled` when its
    caller left (the handler cancelled or its generator closed), else the error's own code."""
    if exc is None:
        return "OK"
    code = getattr(exc, "code", None)
    if isinstance(code, grpc.StatusCode):  # PrizmError
        return code_name(code)
    if isinstance(exc, grpc.aio.AioRpcError):
        return code_name(exc.code())
    if isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
        return "Canceled"
    return "Internal"  # the handlers answer anything unexpected with INTERNAL


class RouterMetrics(ProcessMetrics):
    """The router's metrics: gRPC, and its jobs, relay, endpoints, failovers, limits and cost."""

    def __init__(self, endpoint_states: Callable[[], Iterable[int]] = tuple) -> None:
        """Args:
        endpoint_states: The state of every endpoint now, read at each scrape.
        """
        super().__init__()
        self._job_families()
        self._mesh_families()
        self.registry.register(_EndpointStates(endpoint_states))

    def _job_families(self) -> None:
        r = self.registry
        self.jobs = Counter(
            "prizm_jobs_total",
            "Routed jobs by capability, provider, model and outcome (the final gRPC code, or OK).",
            ("capability", "provider", "model", "outcome"),
            registry=r,
        )
        self.job_seconds = Histogram(
            "prizm_job_duration_seconds",
            "Time from a job's arrival to its end.",
            ("capability", "provider"),
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.first_event = Histogram(
            "prizm_job_time_to_first_event_seconds",
            "Time from a job's arrival to its first event relayed to the caller.",
            ("capability", "provider"),
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "prizm_job_queue_wait_seconds",
            "Time from a job's arrival to its first provider call (admission, routing, waiting for one).",
            ("capability",),
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.relayed_bytes = Counter(
            "prizm_relayed_bytes_total",
            "Bytes relayed: job requests to providers (to_provider), events to callers (to_caller).",
            ("direction",),
            registry=r,
        )

    def _mesh_families(self) -> None:
        r = self.registry
        self.ejections = Counter(
            "prizm_endpoint_ejections_total", "Endpoints ejected for failed calls.", ("provider",), registry=r
        )
        self.failovers = Counter(
            "prizm_failovers_total",
            "Attempts on another provider after one refused or failed (or an allowed restart).",
            ("capability",),
            registry=r,
        )
        self.budget_refusals = Counter(
            "prizm_retry_budget_refusals_total",
            "Failovers refused because the retry budget was spent.",
            registry=r,
        )
        self.admission_rejections = Counter(
            "prizm_admission_rejections_total",
            "Jobs the router refused with RESOURCE_EXHAUSTED before any provider call, by reason.",
            ("reason",),
            registry=r,
        )
        self.cost = Counter(
            "prizm_cost_total",
            "Cost of completed jobs in units of the currency (dollars, not cents), by provider.",
            ("provider", "currency"),
            registry=r,
        )

    @contextlib.contextmanager
    def job(self, capability: int) -> Iterator[JobRecord]:
        """Records one job from its arrival to its end, however it ends."""
        record = JobRecord(self, capability)
        try:
            yield record
        except BaseException as exc:
            outcome = outcome_of(exc)
            record.finish(outcome)
            reason = getattr(exc, "reason", None)
            if outcome == "ResourceExhausted" and record.first_call is None and reason is not None:
                # Refused by the router itself (its caps, a caller's limits): a stable Reason name.
                self.admission_rejections.labels(str(getattr(reason, "value", reason))).inc()
            raise
        record.finish("OK")

    def ejected(self, endpoint: Endpoint) -> None:
        """An endpoint was ejected for its failed calls."""
        self.ejections.labels(provider_label(endpoint)).inc()


class ProviderMetrics(ProcessMetrics):
    """A provider's metrics: gRPC, and its jobs by capability, model and outcome."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs = Counter(
            "prizm_provider_jobs_total",
            "Jobs this provider ran, by capability, model and outcome (the final gRPC code, or OK).",
            ("capability", "model", "outcome"),
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "prizm_provider_job_duration_seconds",
            "Time from a job's start on this provider to its end.",
            ("capability",),
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )

    @contextlib.contextmanager
    def job(self, capability: int, model: str, listed: Collection[str]) -> Iterator[None]:
        """Records one job on `model`, labelled `other` unless the provider lists it (a hosted
        provider may run any model a caller names)."""
        model = model if model in listed else OTHER
        started, outcome = time.monotonic(), "OK"
        try:
            yield
        except BaseException as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            label = capability_label(capability)
            self.jobs.labels(label, model, outcome).inc()
            self.job_seconds.labels(label).observe(time.monotonic() - started)
