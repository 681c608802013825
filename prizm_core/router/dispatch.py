"""What every routed job goes through: its route, admission, id, deadline, forwarded metadata, relay."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import struct_pb2
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.assets import check_inline_inputs
from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError, Reason, invalid_argument
from prizm_core.ids import checked_job_id
from prizm_core.option_schema import option_values
from prizm_core.router.admission import Admission
from prizm_core.router.assets import AssetStore
from prizm_core.router.core import Router
from prizm_core.router.relay import relay
from prizm_core.router.routing import Route
from prizm_core.security.callers import current_identity
from prizm_core.security.limits import authorize_job, charge_job, concurrency_of, precheck_budget
from prizm_core.stopping import Trigger
from prizm_core.streams import CutOff
from prizm_core.telemetry.log_context import bind_job, echo_request_id
from prizm_core.telemetry.tracing import annotate_job

__all__ = ["CALLER_HEADER", "JOB_ID_HEADER", "Dispatcher", "deadline_of", "route_of"]

Context = grpc.aio.ServicerContext[Any, Any]
# Initial metadata telling the caller its job's id before the first event.
JOB_ID_HEADER = "prizm-job-id"
# Names a caller for per-caller limits; without it, the caller is its host (channels to one
# target share connections, so a connection does not tell callers apart).
CALLER_HEADER = "prizm-caller"
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def _forwardable(metadata: tuple[tuple[str, str | bytes], ...]) -> tuple[tuple[str, str | bytes], ...]:
    """Metadata to pass on to a provider, refused if gRPC could not send it on.

    gRPC hands a handler a text value that is not valid UTF-8 as bytes; sent on under a key that
    is not `-bin`, the provider call would fail with INTERNAL "Illegal header value".
    """
    bad = [
        (f"metadata.{key}", "must be printable ASCII; binary values need a key ending in -bin")
        for key, value in metadata
        if not key.endswith("-bin") and not (isinstance(value, str) and _PRINTABLE_ASCII.fullmatch(value))
    ]
    if bad:
        raise invalid_argument(bad, Reason.INVALID_METADATA)
    return metadata


def _peer_host(peer: str) -> str:
    """`ipv4:127.0.0.1:5000` -> `ipv4:127.0.0.1`; `ipv6:[::1]:5000` -> `ipv6:[::1]`."""
    return peer.rpartition(":")[0] or peer


def deadline_of(context: Context) -> float | None:
    """The caller's deadline as a monotonic time, or None without one."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def route_of(
    capability: media_pb.Capability.ValueType,
    model: str,
    hints: router_pb.RoutingHints | None,
    default_policy: router_pb.RoutingPolicy.ValueType,
    options: struct_pb2.Struct | None = None,
) -> Route:
    """Checks the routing fields of a request and returns the route (with the job's options)."""
    violations: list[tuple[str, str]] = []
    if capability == media_pb.CAPABILITY_UNSPECIFIED:
        violations.append(("capability", "is required"))
    else:
        try:
            capability_info(capability)
        except KeyError:
            violations.append(("capability", f"unknown capability {capability}"))
    hints = hints or router_pb.RoutingHints()
    if hints.policy not in router_pb.RoutingPolicy.values():
        violations.append(("routing.policy", f"unknown policy {hints.policy}"))
    max_cost = hints.max_cost if hints.HasField("max_cost") else None
    if max_cost is not None and (max_cost.amount < 0 or not max_cost.currency):
        violations.append(("routing.max_cost", "needs a currency and an amount ≥ 0"))
    if violations:
        raise invalid_argument(violations)
    return Route(
        capability=capability,
        model=model,
        provider=hints.provider,
        policy=hints.policy or default_policy,
        allow_fallback=hints.allow_fallback,
        allow_restart=hints.allow_restart,
        max_cost=max_cost,
        options=option_values(options) if options is not None else {},
    )


class Dispatcher:
    """What every routed job goes through: admission, its id, deadline and metadata, the relay."""

    def __init__(
        self,
        router: Router,
        admission: Admission,
        forward_metadata: frozenset[str],
        assets: AssetStore,
        cut_off: Trigger,
    ) -> None:
        self.router = router
        self.admission = admission
        self.forward_metadata = forward_metadata
        self.assets = assets
        self.cut_off = cut_off

    async def run(
        self, job: model_pb.TransformRequest, route: Route, wait: bool, context: Context
    ) -> AsyncIterator[bytes]:
        """Admits the job, tells the caller its id, and relays its events."""
        metadata = tuple(context.invocation_metadata() or ())
        identity = current_identity()  # with auth on, the caller is who it proved to be, not what it says
        caller = identity.name if identity else next((str(v) for k, v in metadata if k == CALLER_HEADER), "")
        caller = caller or _peer_host(context.peer())
        forwarded = _forwardable(tuple((k, v) for k, v in metadata if k in self.forward_metadata))
        job.job_id = checked_job_id(job.job_id)
        bind_job(job.job_id, caller)  # every log line from here on names the job and its caller
        annotate_job(job.job_id, job.capability, job.model)
        check_inline_inputs(job.inputs)
        for index, asset in enumerate(job.inputs):
            if asset.WhichOneof("source") == "uri":
                stored = self.assets.get(asset.uri)  # exists, and its lease is renewed
                if asset.sha256 and asset.sha256 != stored.asset.sha256:
                    violation = (f"inputs[{index}].sha256", "does not match the uploaded asset")
                    raise invalid_argument([violation], Reason.ASSET_HASH_MISMATCH)
        route = authorize_job(identity, route)
        await precheck_budget(identity, self.router, job, route, deadline_of(context))
        slot = self.admission.admit(caller, concurrency_of(identity))
        # Jobs refused earlier (malformed fields) show in grpc_server_handled_total only.
        with self.router.metrics.job(route.capability) as record, slot:
            await context.send_initial_metadata(((JOB_ID_HEADER, job.job_id), *echo_request_id()))
            deadline = deadline_of(context)
            sent, last = 0, None
            try:
                async for message in relay(
                    self.router,
                    job,
                    route,
                    deadline,
                    wait_for_ready=wait,
                    metadata=forwarded,
                    cut_off=self.cut_off,
                    record=record,
                ):
                    sent, last = sent + 1, message
                    yield message
                charge_job(identity, last)  # its Completion's cost, against the caller's daily budget
            except CutOff:
                raise _shutting_down(job.job_id, sent) from None


def _shutting_down(job_id: str, sent: int) -> PrizmError:
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.ROUTER_SHUTTING_DOWN,
        f"the router is shutting down: job {job_id} was cut off after {sent} event(s); "
        "retry it on another router",
        metadata={"job_id": job_id, "events_relayed": str(sent)},
        retry_after_s=1.0,
    )
