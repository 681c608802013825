"""Routing policy: which endpoints may take a job, best first, and why none can."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError, Reason, invalid_argument
from prizm_core.option_schema import Violation, check_options
from prizm_core.router.registry import Catalog, Endpoint

__all__ = ["Route", "accepting", "awaited", "eligible", "no_candidate_error", "options_error", "order"]

# How soon a caller may retry when every provider of a capability is down.
RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class Route:
    """What the caller asked for, as far as routing cares."""

    capability: media_pb.Capability.ValueType
    model: str = ""
    provider: str = ""
    policy: router_pb.RoutingPolicy.ValueType = router_pb.ROUTING_POLICY_PRIORITY
    allow_fallback: bool = False
    allow_restart: bool = False
    max_cost: media_pb.Cost | None = None
    # The job's options (see `option_values`): with no provider or model named, only candidates
    # whose model accepts them are considered.
    options: Mapping[str, object] = field(default_factory=dict)

    @property
    def checks_options(self) -> bool:
        """Whether the router picks candidates by their option schema (else the named provider answers)."""
        return not (self.provider or self.model)

    @property
    def needs_estimates(self) -> bool:
        """Whether choosing needs each provider's cost estimate."""
        return self.policy == router_pb.ROUTING_POLICY_CHEAPEST or self.max_cost is not None


def _matches(endpoint: Endpoint, route: Route, strict: bool, last_resort: bool) -> bool:
    catalog = endpoint.catalog
    usable = endpoint.routable or (last_resort and endpoint.last_resort)
    if not usable or catalog is None:
        return False
    if strict and route.provider and catalog.provider_id != route.provider:
        return False
    return catalog.model_for(route.capability, route.model if strict else "") is not None


def eligible(endpoints: Iterable[Endpoint], route: Route, last_resort: bool = False) -> list[Endpoint]:
    """Routable endpoints that serve the capability (and the named provider and model).

    With `allow_fallback`, any provider with the capability may stand in when
    the named provider or model cannot. With `last_resort`, EJECTED endpoints
    count too: a suspect endpoint beats none (Envoy's panic routing).
    """
    pool = list(endpoints)
    found = [e for e in pool if _matches(e, route, True, last_resort)]
    if not found and route.allow_fallback and (route.provider or route.model):
        found = [e for e in pool if _matches(e, route, False, last_resort)]
    return found


def _refusals(catalog: Catalog | None, route: Route) -> list[Violation]:
    """Why the model this catalog would use refuses the route's options (empty: it accepts them)."""
    model = catalog.model_for(route.capability) if catalog is not None else None
    if catalog is None or model is None:
        return []
    _, violations = check_options(model.message.parameters, route.options)
    return [(name, f"{catalog.provider_id}/{model.id}: {problem}") for name, problem in violations]


def accepting(endpoints: Iterable[Endpoint], route: Route) -> list[Endpoint]:
    """The endpoints whose model accepts the route's options (all, when a provider or model is named)."""
    endpoints = list(endpoints)
    if not route.checks_options:
        return endpoints
    return [e for e in endpoints if not _refusals(e.catalog, route)]


def options_error(endpoints: Iterable[Endpoint], route: Route) -> PrizmError | None:
    """INVALID_OPTIONS when every known model of the capability refuses the options, else None.

    Its field violations name each provider and model and why, e.g. `options.speed`:
    `espeak/espeak-ng: must be at most 2`. A provider known only from a catalog of
    before (down now) counts: options it accepts are not invalid, only unavailable.
    """
    if not route.checks_options:
        return None
    known = [e for e in endpoints if e.catalog is not None and e.catalog.model_for(route.capability)]
    violations: dict[Violation, None] = {}  # replicas refuse alike: each reason once, in order
    for endpoint in known:
        refusals = _refusals(endpoint.catalog, route)
        if not refusals:
            return None
        violations.update(dict.fromkeys(refusals))
    if not violations:
        return None
    return invalid_argument(sorted(violations), Reason.INVALID_OPTIONS)


def _may_take(endpoint: Endpoint, route: Route) -> bool:
    """Whether a warming provider may take the job: its preview says so, or it has none yet."""
    preview = endpoint.preview
    if preview is None:
        return not route.provider or endpoint.name in ("", route.provider)
    if route.provider and preview.provider_id != route.provider:
        return False
    if preview.model_for(route.capability, route.model) is None:
        return False
    return not route.checks_options or not _refusals(preview, route)


def awaited(endpoints: Iterable[Endpoint], route: Route, found: list[Endpoint], now: float) -> list[Endpoint]:
    """Providers still warming up that a job should wait for rather than go elsewhere.

    Only one that may take the job is waited for: its preview (what it said of
    itself while warming up) has a model for the route that accepts its options,
    or it has said nothing yet. With candidates at hand, only one the priority
    policy would put first is waited for; with none, any.
    """
    warming = [e for e in endpoints if e.warming(now) and _may_take(e, route)]
    if not found:
        return warming
    if route.policy != router_pb.ROUTING_POLICY_PRIORITY:
        return []
    best = max(e.priority for e in found)
    return [e for e in warming if e.priority > best]


def _least_loaded(endpoints: list[Endpoint], rng: random.Random) -> list[Endpoint]:
    """Power of two choices for the first pick, then the rest by load, for failover."""
    if len(endpoints) < 2:
        return endpoints
    first, second = rng.sample(endpoints, 2)
    best = first if first.in_flight <= second.in_flight else second
    rest = sorted((e for e in endpoints if e is not best), key=lambda e: e.in_flight)
    return [best, *rest]


def order(
    endpoints: list[Endpoint],
    route: Route,
    costs: Mapping[str, float] | None = None,
    rng: random.Random | None = None,
) -> list[Endpoint]:
    """Orders candidates best first under the route's policy.

    Args:
        endpoints: Eligible endpoints.
        route: The caller's wishes.
        costs: Estimated cost by provider id, when the policy or a max cost needs them;
            providers without an estimate are dropped.
        rng: Tie-breaker, so replicas of one provider share the load.
    """
    rng = rng or random.Random()  # noqa: S311 - load spreading, not security
    shuffled = rng.sample(endpoints, len(endpoints))
    if costs is not None:
        shuffled = [e for e in shuffled if e.catalog is not None and e.catalog.provider_id in costs]
    if route.policy == router_pb.ROUTING_POLICY_LEAST_LOADED:
        return _least_loaded(shuffled, rng)
    if route.policy == router_pb.ROUTING_POLICY_CHEAPEST and costs is not None:
        return sorted(
            shuffled,
            key=lambda e: (costs[e.catalog.provider_id] if e.catalog else 0.0, e.in_flight),
        )
    return sorted(
        shuffled,
        key=lambda e: (-e.priority, not (e.catalog is not None and e.catalog.local), e.in_flight),
    )


def no_candidate_error(endpoints: Iterable[Endpoint], route: Route) -> PrizmError:
    """The clearest error for a route no endpoint can take now.

    Only an outage is retryable (UNAVAILABLE); a provider, model or capability
    the mesh does not have is not, whatever the health of the rest.
    """
    endpoints = list(endpoints)
    known = [e.catalog for e in endpoints if e.catalog is not None]
    pending = sum(1 for e in endpoints if e.catalog is None)
    capability = capability_info(route.capability).name
    where = "the mesh"
    if route.provider:
        where = f"provider {route.provider!r}"
        scope = [c for c in known if c.provider_id == route.provider]
        if not scope:
            ids = sorted({c.provider_id for c in known})
            return PrizmError(
                grpc.StatusCode.NOT_FOUND,
                Reason.PROVIDER_NOT_FOUND,
                f"no provider {route.provider!r} in the mesh; known: {', '.join(ids) or 'none'}",
                metadata={"provider": route.provider},
            )
    else:
        scope = known
    if route.model and not any(c.model_for(route.capability, route.model) for c in scope):
        return PrizmError(
            grpc.StatusCode.NOT_FOUND,
            Reason.MODEL_NOT_FOUND,
            f"no model {route.model!r} with capability {capability} in {where}",
            metadata={"model": route.model, "capability": capability},
        )
    if not any(c.model_for(route.capability) for c in scope):
        starting = f" ({pending} provider(s) still starting)" if pending else ""
        return PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            Reason.NO_PROVIDER_FOR_CAPABILITY,
            f"nothing in {where} serves {capability}{starting}",
            metadata={"capability": capability},
        )
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.NO_HEALTHY_PROVIDER,
        f"every provider of {capability} in {where} is unavailable; retry shortly",
        metadata={"capability": capability},
        retry_after_s=RETRY_AFTER_S,
    )
