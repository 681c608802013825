"""Routing policy: which endpoints may take a job, best first, and why none can."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import grpc
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.capabilities import capability_info
from prizm_core.errors import PrizmError
from prizm_core.router.registry import Endpoint

__all__ = ["Route", "eligible", "no_candidate_error", "order"]

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
                "PROVIDER_NOT_FOUND",
                f"no provider {route.provider!r} in the mesh; known: {', '.join(ids) or 'none'}",
                metadata={"provider": route.provider},
            )
    else:
        scope = known
    if route.model and not any(c.model_for(route.capability, route.model) for c in scope):
        return PrizmError(
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
            f"no model {route.model!r} with capability {capability} in {where}",
            metadata={"model": route.model, "capability": capability},
        )
    if not any(c.model_for(route.capability) for c in scope):
        starting = f" ({pending} provider(s) still starting)" if pending else ""
        return PrizmError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "NO_PROVIDER_FOR_CAPABILITY",
            f"nothing in {where} serves {capability}{starting}",
            metadata={"capability": capability},
        )
    return PrizmError(
        grpc.StatusCode.UNAVAILABLE,
        "NO_HEALTHY_PROVIDER",
        f"every provider of {capability} in {where} is unavailable; retry shortly",
        metadata={"capability": capability},
        retry_after_s=RETRY_AFTER_S,
    )
