"""A router's start: its sidecars as endpoints from launch, and the one line saying the mesh is ready."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.router.core import Router
from prizm_core.router.sidecars import Sidecar

__all__ = ["SidecarEndpoints", "announce_ready", "ready_line"]

# How often readiness is looked at again without a registry change (a sidecar's startup wait ends).
_RECHECK_S = 0.5


class SidecarEndpoints:
    """Keeps the router's endpoints in step with its sidecars (the `SidecarHooks` of the router)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def placed(self, sidecar: Sidecar, previous: str) -> None:
        """Lists the sidecar by its provider name before it starts; jobs may wait for its first start."""
        if previous and previous != sidecar.address:
            self.router.retire_endpoint(previous, f"sidecar {sidecar.name} moved to {sidecar.address}")
        self.router.add_endpoint(
            sidecar.address,
            router_pb.DISCOVERY_SOURCE_SIDECAR,
            sidecar.spec.priority,
            name=sidecar.spec.shown_name,
            warming=sidecar.restarts == 0,
            # Not dialled before it listens: a connect to a port nobody listens on can be given that
            # very port as its source (a TCP self-connect), and then holds it against the child.
            watch=False,
        )

    def listening(self, sidecar: Sidecar) -> None:
        """Starts the health checks of the sidecar's endpoint: it can be dialled now."""
        self.router.watch_endpoint(sidecar.address)

    def exited(self, sidecar: Sidecar) -> None:
        """A skipped sidecar leaves the mesh; one that failed to start is no longer waited for."""
        if sidecar.skipped:
            self.router.retire_endpoint(sidecar.address, f"skipped: {sidecar.skipped}")
        else:
            self.router.registry.stop_warming(sidecar.address)


def _outcome(router: Router, sidecar: Sidecar, now: float) -> tuple[str, str] | None:
    """`(verdict, why)` once the sidecar has started or will not, None while it is starting."""
    if sidecar.skipped:
        return "skipped", sidecar.skipped
    endpoint = router.registry.get(sidecar.address) if sidecar.address else None
    if endpoint is not None and endpoint.catalog is not None:
        return "serving", ""
    if sidecar.exited:
        return "failed", f"{sidecar.exited}; restarting"
    if endpoint is not None and not endpoint.warm_until:
        # It listens but says it cannot serve (a vendor refused its key): waiting would not help.
        return "not serving", endpoint.detail.removeprefix("health: NOT_SERVING: ")
    if endpoint is not None and not endpoint.warming(now):
        return "slow", f"not serving after {router.settings.startup_wait_s:g} s"
    return None


def ready_line(router: Router, sidecars: Sequence[Sidecar], address: str, now: float) -> str | None:
    """The line saying the router is ready, once every sidecar is serving, skipped or failed.

    E.g. `ready: piper, espeak on 127.0.0.1:50051; skipped ocr (pip install 'prizm[ocr]')`.
    """
    replicas = {s.spec.shown_name: s.spec.replicas for s in sidecars}
    serving: list[str] = []
    others: list[str] = []
    for sidecar in sidecars:
        outcome = _outcome(router, sidecar, now)
        if outcome is None:
            return None
        label = sidecar.spec.shown_name if replicas[sidecar.spec.shown_name] == 1 else sidecar.name
        verdict, why = outcome
        if verdict == "serving":
            serving.append(label)
        else:
            others.append(f"{'still starting' if verdict == 'slow' else verdict} {label} ({why})")
    names = f": {', '.join(serving)}" if serving else (": no providers" if sidecars else "")
    return "; ".join([f"ready{names} on {address}", *others])


async def announce_ready(
    router: Router, sidecars: Sequence[Sidecar], address: str, on_ready: Callable[[str], None]
) -> None:
    """Calls `on_ready` with the ready line once, when every sidecar has started or will not."""
    while (line := ready_line(router, sidecars, address, time.monotonic())) is None:
        await router.registry.wait_changed(_RECHECK_S)
    on_ready(line)
