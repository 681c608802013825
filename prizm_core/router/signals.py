"""How the signals about one endpoint become its routing state.

Signals: the provider's own health reports (Watch), the router's active
checks, and the outcome of real calls. The rules, with Envoy's health checking
and outlier detection as the model:

- A NOT_SERVING report or a broken Watch stream takes the endpoint out at once:
  the provider said so, or it is gone.
- `unhealthy_checks` failed active checks in a row (a hung process, a blocked
  event loop) eject it; one passing check clears that.
- `outlier_failures` failed calls in a row eject it for a time that grows with
  each ejection (`ejection_s` times the ejections, at most `ejection_max_s`), unless
  that would leave its capability without a serving endpoint.
- An endpoint that went down twice within `flap_window_s` is held out until it
  has stayed healthy for `flap_hold_s` (doubling with each further fall, also
  the falls while it is held out, at most `flap_hold_max_s`): a flapping
  provider changes the router's state a few times, not on every toggle. A
  first recovery (a restart) is immediate.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import HealthSettings

__all__ = ["EndpointSignals", "Verdict"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class Verdict:
    """An endpoint's routing state and why."""

    state: router_pb.EndpointState.ValueType
    detail: str


@dataclass
class EndpointSignals:
    """Everything the router has observed about one endpoint, and the verdict it leads to."""

    settings: HealthSettings
    clock: Clock = time.monotonic
    reported: router_pb.EndpointState.ValueType = router_pb.ENDPOINT_STATE_PENDING
    report_detail: str = "waiting for first SERVING"
    failed_checks: int = 0
    failed_calls: int = 0
    ejections: int = 0
    ejected_until: float = 0.0
    healthy_since: float | None = None
    downs: collections.deque[float] = field(default_factory=collections.deque)
    routable: bool = False

    def report(self, state: router_pb.EndpointState.ValueType, detail: str = "") -> None:
        """The provider's own word: SERVING, NOT_SERVING, or unreachable (NOT_SERVING)."""
        if (
            state == router_pb.ENDPOINT_STATE_NOT_SERVING
            and self.reported == router_pb.ENDPOINT_STATE_PENDING
        ):
            self.report_detail = detail  # never served yet: still pending
            return
        if self.reported == router_pb.ENDPOINT_STATE_SERVING and state != self.reported and not self.routable:
            self.downs.append(self.clock())  # a fall while held out still counts: it is still flapping
        self.reported, self.report_detail = state, detail
        self.failed_checks = 0  # checks from before the report say nothing about now

    def check(self, ok: bool) -> None:
        """The outcome of one active health check."""
        self.failed_checks = 0 if ok else self.failed_checks + 1

    def call(self, ok: bool) -> bool:
        """The outcome of one real call; True when it ejects the endpoint now."""
        if ok:
            self.failed_calls = 0
            return False
        self.failed_calls += 1
        return self.failed_calls >= self.settings.outlier_failures

    def eject(self) -> float:
        """Ejects for a time growing with each ejection; returns its length."""
        self.ejections += 1
        length = min(self.settings.ejection_s * self.ejections, self.settings.ejection_max_s)
        self.ejected_until = self.clock() + length
        self.failed_calls = 0
        return length

    def _hold_s(self, now: float) -> float:
        while self.downs and now - self.downs[0] > self.settings.flap_window_s:
            self.downs.popleft()
        flaps = len(self.downs) - 1
        if flaps < 1:
            return 0.0
        return min(self.settings.flap_hold_s * 2.0 ** (flaps - 1), self.settings.flap_hold_max_s)

    def verdict(self) -> Verdict:
        """The state the endpoint should be in now; records ups and downs for flap damping."""
        now = self.clock()
        verdict = self._judge(now)
        routable = verdict.state == router_pb.ENDPOINT_STATE_SERVING
        if self.routable and not routable:
            self.downs.append(now)
        self.routable = routable
        return verdict

    def _judge(self, now: float) -> Verdict:
        if self.reported != router_pb.ENDPOINT_STATE_SERVING:
            self.healthy_since = None
            return Verdict(self.reported, self.report_detail)
        if self.failed_checks >= self.settings.unhealthy_checks:
            self.healthy_since = None
            return Verdict(
                router_pb.ENDPOINT_STATE_EJECTED, f"failed {self.failed_checks} health checks in a row"
            )
        if self.healthy_since is None:
            self.healthy_since = now
        if self.ejected_until > now:
            left = self.ejected_until - now
            return Verdict(
                router_pb.ENDPOINT_STATE_EJECTED, f"ejected after failed calls; back in {left:.1f} s"
            )
        hold = self._hold_s(now)
        if not self.routable and now - self.healthy_since < hold:
            left = hold - (now - self.healthy_since)
            return Verdict(router_pb.ENDPOINT_STATE_EJECTED, f"flapping; held out {left:.1f} s more")
        return Verdict(router_pb.ENDPOINT_STATE_SERVING, "")
