"""Per-caller limits: request rate, what a job may use, and the cost a caller may run up each UTC day.

Each caller's running state (`CallerLimits`) lives as long as the router and is shared by all its
calls. Jobs in flight are counted by the router's `Admission`, with the caller's own limit.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import DecodeError
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import model_service_pb2 as model_pb

from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError, Reason
from prizm_core.security.callers import CallerPolicy, Identity

if TYPE_CHECKING:  # the router imports this module: no cycle at run time
    from prizm_core.router.core import Router
    from prizm_core.router.routing import Route

__all__ = [
    "CallerLimits",
    "TokenBucket",
    "allowed_route",
    "authorize_job",
    "charge_job",
    "check_rate",
    "concurrency_of",
    "precheck_budget",
    "visible_models",
]

Clock = Callable[[], float]
# Sums of float costs (0.4 + 0.4 + 0.2) land a hair off the budget: equal counts as within.
_EPSILON = 1e-9
WallClock = Callable[[], datetime.datetime]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass
class TokenBucket:
    """`capacity` requests at once, refilled at `rate_per_s`: a steady rate with room for a burst."""

    rate_per_s: float
    capacity: float
    clock: Clock = time.monotonic
    tokens: float = dataclasses.field(init=False)
    updated: float = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.updated = self.clock()

    def take(self) -> float | None:
        """Takes a token: None when there was one, else the seconds until there will be."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate_per_s


class CallerLimits:
    """One caller's request-rate bucket and what it has spent today (UTC), by currency."""

    def __init__(
        self, policy: CallerPolicy, clock: Clock = time.monotonic, wall: WallClock = _utc_now
    ) -> None:
        """Starts with a full bucket and nothing spent.

        Args:
            policy: The caller's limits.
            clock: Monotonic seconds, for the rate.
            wall: The current UTC time, for the day's budget.
        """
        per_minute = policy.requests_per_minute
        # A minute's worth of requests may come at once; after that, one every 60/rpm seconds.
        self.bucket = TokenBucket(per_minute / 60.0, float(per_minute), clock) if per_minute else None
        self.budget = dict(policy.cost_budget_per_day)
        self.wall = wall
        self.day = wall().date()
        self.spent: dict[str, float] = {}

    def _today(self) -> dict[str, float]:
        today = self.wall().date()
        if today != self.day:
            self.day, self.spent = today, {}
        return self.spent

    def over_budget(self) -> tuple[str, float] | None:
        """The first currency whose budget today's spending has reached, with the budget; else None."""
        spent = self._today()
        for currency, budget in sorted(self.budget.items()):
            if spent.get(currency, 0.0) >= budget:
                return currency, budget
        return None

    def left(self, currency: str) -> float | None:
        """What is left of today's budget in `currency`; None when it has none."""
        if currency not in self.budget:
            return None
        return self.budget[currency] - self._today().get(currency, 0.0)

    def spend(self, currency: str, amount: float) -> None:
        """Adds a finished job's cost to today's spending."""
        spent = self._today()
        spent[currency] = spent.get(currency, 0.0) + amount

    def seconds_to_next_day(self) -> float:
        """Seconds until the budget starts again: the next UTC midnight."""
        now = self.wall()
        tomorrow = datetime.datetime.combine(
            now.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC
        )
        return (tomorrow - now).total_seconds()


def _limits(identity: Identity) -> CallerLimits:
    if identity.state is None:  # an identity made without the router's state: no running limits
        return CallerLimits(CallerPolicy())
    return identity.state


def check_rate(identity: Identity) -> None:
    """Counts one request against the caller's rate.

    Raises:
        PrizmError: RESOURCE_EXHAUSTED CALLER_RATE_LIMITED, with RetryInfo: when the next is allowed.
    """
    bucket = _limits(identity).bucket
    wait = bucket.take() if bucket is not None else None
    if wait is not None:
        raise PrizmError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.CALLER_RATE_LIMITED,
            f"caller {identity.name} is over its {identity.policy.requests_per_minute} requests per minute; "
            f"retry in {wait:.1f} s",
            retry_after_s=wait,
        )


def concurrency_of(identity: Identity | None) -> int | None:
    """The caller's own limit on jobs in flight; None: the router's `max_jobs_per_caller`."""
    return identity.policy.max_concurrent_jobs if identity is not None else None


def _denied(reason: Reason, message: str) -> PrizmError:
    return PrizmError(grpc.StatusCode.PERMISSION_DENIED, reason, message)


def _allowed_route(identity: Identity, route: Route) -> Route:
    """The route with the caller's provider allow-list applied; refuses what it may not use."""
    policy = identity.policy
    if policy.capabilities and capability_info(route.capability).name not in policy.capabilities:
        allowed = ", ".join(policy.capabilities)
        raise _denied(Reason.CAPABILITY_NOT_ALLOWED, f"caller {identity.name} may use only: {allowed}")
    if not policy.providers:
        return route
    allowed = ", ".join(policy.providers)
    if route.provider and route.provider not in policy.providers:
        raise _denied(
            Reason.PROVIDER_NOT_ALLOWED, f"caller {identity.name} may use only providers: {allowed}"
        )
    if not route.provider:
        if len(policy.providers) > 1:
            raise _denied(
                Reason.PROVIDER_NOT_ALLOWED,
                f"caller {identity.name} may use only providers {allowed}: name one in routing.provider",
            )
        route = dataclasses.replace(route, provider=policy.providers[0])
    # A fallback could take the job to a provider the caller may not use.
    return dataclasses.replace(route, allow_fallback=False)


def allowed_route(identity: Identity | None, route: Route) -> Route:
    """The route of a catalog call (`EstimateCost`, `ValidateInput`) with the caller's allow-lists.

    Raises:
        PrizmError: PERMISSION_DENIED CAPABILITY_NOT_ALLOWED or PROVIDER_NOT_ALLOWED, as for a job.
    """
    return route if identity is None else _allowed_route(identity, route)


def visible_models(identity: Identity | None, models: list[catalog_pb.Model]) -> list[catalog_pb.Model]:
    """The models a caller may use, each with only the capabilities it may use them for."""
    if identity is None or not (identity.policy.capabilities or identity.policy.providers):
        return models
    policy, shown = identity.policy, []
    for model in models:
        if policy.providers and model.provider_id not in policy.providers:
            continue
        allowed = [c for c in model.capabilities if _capability_allowed(policy, c)]
        if allowed:
            trimmed = catalog_pb.Model()
            trimmed.CopyFrom(model)
            trimmed.ClearField("capabilities")
            trimmed.capabilities.extend(allowed)
            shown.append(trimmed)
    return shown


def _capability_allowed(policy: CallerPolicy, capability: int) -> bool:
    try:
        return not policy.capabilities or capability_info(capability).name in policy.capabilities
    except KeyError:  # a capability this router does not know: not one the caller was allowed
        return False


def authorize_job(identity: Identity | None, route: Route) -> Route:
    """Checks that the caller may run this job now; returns the route it may take.

    With auth off (`identity` None) the route is returned as it is.

    Raises:
        PrizmError: PERMISSION_DENIED (CAPABILITY_NOT_ALLOWED, PROVIDER_NOT_ALLOWED), or
            RESOURCE_EXHAUSTED CALLER_BUDGET_EXCEEDED with RetryInfo (the next UTC midnight).
    """
    if identity is None:
        return route
    route = _allowed_route(identity, route)
    limits = _limits(identity)
    over = limits.over_budget()
    if over is not None:
        currency, budget = over
        message = f"caller {identity.name} has spent its budget of {budget:g} {currency} for today (UTC)"
        raise _over_budget(identity, limits, currency, message)
    return route


def _over_budget(identity: Identity, limits: CallerLimits, currency: str, message: str) -> PrizmError:
    return PrizmError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        Reason.CALLER_BUDGET_EXCEEDED,
        message,
        metadata={"currency": currency},
        retry_after_s=limits.seconds_to_next_day(),
    )


async def precheck_budget(
    identity: Identity | None,
    router: Router,
    job: model_pb.TransformRequest,
    route: Route,
    deadline: float | None,
) -> None:
    """Refuses a job whose estimate would take a caller with a budget over it.

    Only for callers with a budget (one more `EstimateCost` call per job); where no estimate can be
    had, the job goes on and its actual cost is counted.

    Raises:
        PrizmError: RESOURCE_EXHAUSTED CALLER_BUDGET_EXCEEDED with RetryInfo (the next UTC midnight).
    """
    if identity is None or not identity.policy.cost_budget_per_day:
        return
    request = model_pb.EstimateCostRequest(
        capability=job.capability, model=job.model, inputs=job.inputs, options=job.options
    )
    try:
        answer, _ = await router.estimate(request, route, deadline)
    except (PrizmError, grpc.aio.AioRpcError):  # no estimate: the job itself will say what is wrong
        return
    cost, limits = answer.cost, _limits(identity)
    left = limits.left(cost.currency)
    if left is not None and cost.amount > left + _EPSILON:
        raise _over_budget(
            identity,
            limits,
            cost.currency,
            f"this job's estimate of {cost.amount:g} {cost.currency} is more than the {max(left, 0.0):g} "
            f"{cost.currency} left of caller {identity.name}'s budget for today (UTC)",
        )


def charge_job(identity: Identity | None, last_event: bytes | None) -> None:
    """Adds a job's cost, from its last event (the `Completion`), to the caller's spending today."""
    if identity is None or last_event is None:
        return
    try:
        event = model_pb.TransformResponse.FromString(last_event)
    except DecodeError:  # not ours to judge here: the caller got the bytes as they came
        return
    if event.WhichOneof("event") == "completion" and event.completion.HasField("cost"):
        cost = event.completion.cost
        if cost.currency and cost.amount > 0:
            _limits(identity).spend(cost.currency, cost.amount)
