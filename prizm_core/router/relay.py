"""The streaming relay: a job to the best candidate, events back as bytes, failover only before commit.

A job is committed once its first event reached the caller. Before that, a
candidate that refuses or fails (UNAVAILABLE, RESOURCE_EXHAUSTED) hands the job
to the next one, within `max_attempts` and the retry budget. After that, a
provider that dies ends the call with UNAVAILABLE PROVIDER_CRASHED and the job
is never rerun, unless the caller allowed a restart: then it runs once more
from the start elsewhere, its events numbered on from where the caller is.
Any status a provider returns on purpose passes through unchanged.

An upstream that vanishes, however it goes (killed, its connection lost, its
channel closed under the call when it left the mesh), is a transport fault:
the job fails over before commit and ends PROVIDER_CRASHED after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence

import grpc
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import model_service_pb2 as model_pb

from prizm_core.errors import DOMAIN, PrizmError, Reason, error_details
from prizm_core.handlers import method_path
from prizm_core.router.core import FAILOVER_CODES, Router
from prizm_core.router.registry import Endpoint
from prizm_core.router.routing import Route
from prizm_core.stopping import Trigger
from prizm_core.streams import read_apart
from prizm_core.telemetry.grpc_metrics import counted_stream
from prizm_core.telemetry.metrics import JobRecord
from prizm_core.telemetry.tracing import Attempt

__all__ = ["relay"]

log = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str | bytes]]
# Outcomes that count against an endpoint for outlier ejection: its transport failing, or a failure on
# its side. What a provider answers because of the caller's input (INVALID_ARGUMENT, NOT_FOUND,
# FAILED_PRECONDITION, ...) never does, nor being busy (RESOURCE_EXHAUSTED), nor the caller's deadline.
_PROVIDER_FAULTS = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
)
# How a call ends when its upstream vanished rather than answered: the connection lost, or the channel
# closed under it.
_VANISHED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
_MAX_RESTARTS = 1
# Transport failures of one endpoint this close together are one incident for the retry budget.
_INCIDENT_S = 1.0
# Counted as a client call in the metrics.
_TRANSFORM_PATH = method_path(
    model_pb.DESCRIPTOR.services_by_name["ModelService"].methods_by_name["Transform"]
)


def _deliberate(error: grpc.aio.AioRpcError) -> bool:
    """Whether a Prizm server chose this status (it carries our ErrorInfo), rather than transport."""
    return error_details(error).domain == DOMAIN


def _vanished(error: grpc.aio.AioRpcError) -> bool:
    """Whether the upstream went away under the call, rather than ending it with a status of its own."""
    return error.code() in _VANISHED and not _deliberate(error)


def _charge(router: Router, endpoint: Endpoint, error: grpc.aio.AioRpcError) -> None:
    """Takes a retry token for a failed attempt.

    A connection lost under many calls at once (a crash) is one incident, not
    one per call: its calls may all fail over. A provider refusing on purpose
    pays for every refusal, so one that refuses everything is soon not retried.
    """
    now = time.monotonic()
    if _deliberate(error) or now - endpoint.last_failure > _INCIDENT_S:
        router.budget.failure()
    endpoint.last_failure = now


def _crashed(job_id: str, endpoint: Endpoint, relayed: int) -> PrizmError:
    provider = endpoint.catalog.provider_id if endpoint.catalog else endpoint.address
    log.error(
        "job %s: provider %s at %s failed after %d event(s)", job_id, provider, endpoint.address, relayed
    )
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.PROVIDER_CRASHED,
        f"provider {provider} failed after {relayed} event(s) of job {job_id}; the job was not rerun",
        metadata={"job_id": job_id, "provider": provider, "events_relayed": str(relayed)},
    )


def _renumbered(raw: bytes, offset: int) -> bytes:
    event = model_pb.TransformResponse.FromString(raw)
    event.sequence += offset
    return event.SerializeToString()


def _restart_notice(job_id: str, sequence: int, endpoint: Endpoint, relayed: int) -> bytes:
    provider = endpoint.catalog.provider_id if endpoint.catalog else endpoint.address
    notice = job_pb.Progress(
        state=job_pb.JOB_STATE_STARTING,
        stage="restart",
        message=f"provider {provider} failed after {relayed} event(s); running the job again from the start",
    )
    return model_pb.TransformResponse(job_id=job_id, sequence=sequence, progress=notice).SerializeToString()


class _Attempts:
    """The candidates of one job, in order, and what has been tried."""

    def __init__(self, router: Router, route: Route, job: model_pb.TransformRequest) -> None:
        self.router, self.route, self.job = router, route, job
        self.tried: list[Endpoint] = []
        self.queue: list[Endpoint] = []
        self.failures: list[str] = []
        self.refusal: grpc.aio.AioRpcError | None = None

    async def next(self, deadline: float | None, wait_for_ready: bool) -> Endpoint | None:
        """The next candidate, or None when the attempts or the retry budget are spent."""
        if self.tried and len(self.tried) >= self.router.settings.max_attempts:
            return None
        if not self.queue:
            estimate = model_pb.EstimateCostRequest()
            if self.route.needs_estimates:
                estimate = model_pb.EstimateCostRequest(
                    capability=self.job.capability,
                    model=self.job.model,
                    inputs=self.job.inputs,
                    options=self.job.options,
                )
            ordered = await self.router.candidates(
                self.route, estimate, deadline, wait_for_ready and not self.tried
            )
            self.queue = [e for e in ordered if e not in self.tried]
        if not self.queue:
            return None
        # Asked only when there is another provider to try: a refusal is then one the budget made.
        if self.tried and not self.router.budget.allows_retry():
            self.router.metrics.budget_refusals.inc()
            return None
        endpoint = self.queue.pop(0)
        self.tried.append(endpoint)
        return endpoint

    def exhausted(self) -> Exception:
        """The error for a job no candidate took: a provider's own refusal, else NO_HEALTHY_PROVIDER."""
        if self.refusal is not None and _deliberate(self.refusal):
            return self.refusal
        return PrizmError(
            grpc.StatusCode.UNAVAILABLE,
            Reason.NO_HEALTHY_PROVIDER,
            f"job {self.job.job_id} was refused by every candidate tried: {'; '.join(self.failures)}",
            metadata={"job_id": self.job.job_id},
            retry_after_s=1.0,
        )


async def relay(
    router: Router,
    job: model_pb.TransformRequest,
    route: Route,
    deadline: float | None,
    *,
    wait_for_ready: bool = False,
    metadata: Metadata = (),
    cut_off: Trigger | None = None,
    record: JobRecord,
) -> AsyncIterator[bytes]:
    """Runs `job` and yields its events as serialized `TransformResponse` bytes.

    Cancelling the consumer cancels the provider's call (the loop runs in the
    caller's handler task). Once `cut_off` fires, the wait for the next event
    raises `CutOff` and the provider's call is cancelled. `record` gets its metrics.
    """
    payload = job.SerializeToString()
    attempts = _Attempts(router, route, job)
    sent = restarts = 0
    crash: PrizmError | None = None
    while (endpoint := await attempts.next(deadline, wait_for_ready)) is not None:
        offset, relayed = sent, 0
        attempt = Attempt(attempts.tried, metadata)  # its span; the router's trace context to send
        call = endpoint.transform(
            payload,
            timeout=router.timeout(deadline),
            metadata=(*attempt.metadata, *router.call_metadata(job.inputs)),
        )
        record.attempt(endpoint, job.capability, job.model, len(payload))
        messages = attempt.follow(
            counted_stream(router.metrics.grpc, _TRANSFORM_PATH, read_apart(call, cut_off))
        )
        endpoint.begin_call()  # here, so that the finally below always ends it
        try:
            async for message in messages:
                if relayed == 0:
                    router.budget.success()
                relayed += 1
                sent += 1
                event = message if offset == 0 else _renumbered(message, offset)
                record.event(event)
                yield event
            router.call_outcome(endpoint, ok=True)
            return
        except grpc.aio.AioRpcError as exc:
            code, vanished = exc.code(), _vanished(exc)
            if code in _PROVIDER_FAULTS:
                router.call_outcome(endpoint, ok=False)
            if relayed == 0 and (code in FAILOVER_CODES or vanished):
                _charge(router, endpoint, exc)
                attempts.failures.append(f"{endpoint.address}: {code.name}")
                attempts.refusal = exc
                log.warning("job %s: %s refused before its first event (%s); failing over",
                            job.job_id, endpoint.address, code.name)  # fmt: skip
                continue
            if relayed == 0 or not vanished:
                raise
            crash = _crashed(job.job_id, endpoint, relayed)
            if not route.allow_restart or restarts >= _MAX_RESTARTS:
                raise crash from exc
            restarts += 1
            sent += 1
            yield _restart_notice(job.job_id, sent, endpoint, relayed)
            attempts.queue.clear()  # choose afresh: health has moved on since the job started
        finally:
            endpoint.end_call()
            await messages.aclose()  # cancels the call if it is still going
    raise crash or attempts.exhausted()
