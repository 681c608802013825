"""Endpoint signals to verdicts: reports, checks, outlier ejection and flap damping, on a fake clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import HealthSettings
from prizm_core.router.signals import EndpointSignals, Verdict

PENDING = router_pb.ENDPOINT_STATE_PENDING
SERVING = router_pb.ENDPOINT_STATE_SERVING
NOT_SERVING = router_pb.ENDPOINT_STATE_NOT_SERVING
EJECTED = router_pb.ENDPOINT_STATE_EJECTED

SETTINGS = HealthSettings(
    unhealthy_checks=2,
    outlier_failures=5,
    ejection_s=2.0,
    ejection_max_s=30.0,
    flap_window_s=10.0,
    flap_hold_s=2.0,
    flap_hold_max_s=30.0,
)


@dataclass
class FakeClock:
    """Monotonic time that moves only when the test says so."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def _signals(settings: HealthSettings = SETTINGS) -> tuple[EndpointSignals, FakeClock]:
    clock = FakeClock()
    return EndpointSignals(settings, clock=clock), clock


def _serving(settings: HealthSettings = SETTINGS) -> tuple[EndpointSignals, FakeClock]:
    """Signals of an endpoint that has reported SERVING and been judged routable at t=0."""
    signals, clock = _signals(settings)
    signals.report(SERVING)
    assert signals.verdict() == Verdict(SERVING, "")
    return signals, clock


def _at(clock: FakeClock, signals: EndpointSignals, t: float, state: int, detail: str = "") -> Verdict:
    """At time `t` the provider reports `state`; the verdict that follows."""
    clock.now = t
    signals.report(state, detail)  # type: ignore[arg-type]
    return signals.verdict()


def _hold_after_fall(signals: EndpointSignals, clock: FakeClock, step: float = 0.25) -> float:
    """Falls and recovers at once; how long the endpoint is then held out (a multiple of `step`)."""
    assert _at(clock, signals, clock.now + step, NOT_SERVING).state == NOT_SERVING
    up = clock.now + step
    verdict = _at(clock, signals, up, SERVING)
    while verdict.state != SERVING:
        assert verdict.state == EJECTED
        assert "flapping" in verdict.detail
        clock.now += step
        verdict = signals.verdict()
    return clock.now - up


def test_a_new_endpoint_is_pending() -> None:
    signals, _ = _signals()
    assert signals.verdict() == Verdict(PENDING, "waiting for first SERVING")
    assert not signals.routable


def test_not_serving_before_the_first_serving_keeps_it_pending_with_the_new_detail() -> None:
    signals, clock = _signals()
    assert _at(clock, signals, 1.0, NOT_SERVING, "loading the voice") == Verdict(PENDING, "loading the voice")
    assert _at(clock, signals, 2.0, NOT_SERVING, "still loading") == Verdict(PENDING, "still loading")
    assert _at(clock, signals, 3.0, SERVING) == Verdict(SERVING, "")
    assert signals.routable


def test_not_serving_after_serving_takes_it_out_at_once() -> None:
    signals, clock = _serving()
    assert _at(clock, signals, 0.1, NOT_SERVING, "draining") == Verdict(NOT_SERVING, "draining")
    assert not signals.routable
    # The first recovery, a restart, is immediate.
    assert _at(clock, signals, 0.2, SERVING) == Verdict(SERVING, "")


def test_failed_checks_in_a_row_eject_and_one_passing_check_clears() -> None:
    signals, _ = _serving()
    signals.check(ok=False)
    assert signals.verdict().state == SERVING  # one failure is not enough
    signals.check(ok=False)
    assert signals.verdict() == Verdict(EJECTED, "failed 2 health checks in a row")
    signals.check(ok=False)
    assert signals.verdict() == Verdict(EJECTED, "failed 3 health checks in a row")
    signals.check(ok=True)
    assert signals.verdict() == Verdict(SERVING, "")


def test_failed_checks_must_be_in_a_row() -> None:
    signals, _ = _serving()
    for ok in (False, True, False, True, False):
        signals.check(ok)
        assert signals.verdict().state == SERVING


def test_a_new_report_resets_the_failed_checks() -> None:
    signals, clock = _serving()
    signals.check(ok=False)
    assert _at(clock, signals, 0.1, SERVING).state == SERVING
    signals.check(ok=False)  # the first failure since the report
    assert signals.verdict().state == SERVING
    signals.check(ok=False)
    assert signals.verdict().state == EJECTED


def test_failed_checks_do_not_override_the_providers_own_report() -> None:
    signals, clock = _serving()
    for _ in range(3):
        signals.check(ok=False)
    clock.now = 0.1
    signals.report(NOT_SERVING, "shutting down")
    for _ in range(3):
        signals.check(ok=False)
    assert signals.verdict() == Verdict(NOT_SERVING, "shutting down")


def test_call_ejects_only_at_the_threshold_and_success_resets() -> None:
    signals, _ = _serving()
    assert [signals.call(ok=False) for _ in range(4)] == [False] * 4
    assert signals.call(ok=True) is False
    assert [signals.call(ok=False) for _ in range(4)] == [False] * 4
    assert signals.call(ok=False) is True
    # Calls alone never change the verdict: the router decides whether to eject.
    assert signals.verdict().state == SERVING


def test_ejection_lengths_grow_and_are_capped() -> None:
    signals, _ = _serving()
    lengths = [signals.eject() for _ in range(17)]
    assert lengths == [min(2.0 * n, 30.0) for n in range(1, 18)]
    assert lengths[:3] == [2.0, 4.0, 6.0]
    assert lengths[-3:] == [30.0, 30.0, 30.0]
    assert signals.ejections == 17


def test_eject_resets_the_failed_calls() -> None:
    signals, _ = _serving()
    for _ in range(4):
        signals.call(ok=False)
    signals.eject()
    assert [signals.call(ok=False) for _ in range(5)] == [False, False, False, False, True]


def test_an_ejected_endpoint_is_back_once_the_time_has_passed() -> None:
    signals, clock = _serving()
    clock.now = 10.0
    assert signals.eject() == 2.0
    assert signals.verdict() == Verdict(EJECTED, "ejected after failed calls; back in 2.0 s")
    clock.now = 11.5
    assert signals.verdict() == Verdict(EJECTED, "ejected after failed calls; back in 0.5 s")
    clock.now = 12.0
    assert signals.verdict() == Verdict(SERVING, "")
    # The next ejection lasts twice as long.
    assert signals.eject() == 4.0
    clock.now = 15.9
    assert signals.verdict().state == EJECTED
    clock.now = 16.0
    assert signals.verdict().state == SERVING


def test_a_second_fall_within_the_window_holds_the_endpoint_out() -> None:
    signals, clock = _serving()
    assert _at(clock, signals, 1.0, NOT_SERVING).state == NOT_SERVING  # first fall: at once
    assert _at(clock, signals, 2.0, SERVING).state == SERVING  # first recovery: at once
    assert _at(clock, signals, 3.0, NOT_SERVING).state == NOT_SERVING  # second fall
    assert _at(clock, signals, 4.0, SERVING) == Verdict(EJECTED, "flapping; held out 2.0 s more")
    clock.now = 5.5
    assert signals.verdict() == Verdict(EJECTED, "flapping; held out 0.5 s more")
    clock.now = 6.0  # healthy for flap_hold_s
    assert signals.verdict() == Verdict(SERVING, "")


def test_a_fall_during_the_hold_restarts_it_and_doubles_it() -> None:
    signals, clock = _serving()
    _at(clock, signals, 1.0, NOT_SERVING)
    _at(clock, signals, 2.0, SERVING)
    _at(clock, signals, 3.0, NOT_SERVING)
    assert _at(clock, signals, 4.0, SERVING).state == EJECTED
    # Still flapping while held out: that fall counts too, so the hold doubles.
    assert _at(clock, signals, 5.0, NOT_SERVING) == Verdict(NOT_SERVING, "")
    assert _at(clock, signals, 5.5, SERVING) == Verdict(EJECTED, "flapping; held out 4.0 s more")
    clock.now = 9.4  # only 3.9 s healthy
    assert signals.verdict().state == EJECTED
    clock.now = 9.5
    assert signals.verdict().state == SERVING


def test_failed_checks_count_as_falls_for_flap_damping() -> None:
    signals, clock = _serving()

    def fail_checks_then_pass(t: float) -> Verdict:
        clock.now = t
        signals.check(ok=False)
        signals.check(ok=False)
        assert signals.verdict().state == EJECTED
        signals.check(ok=True)
        clock.now = t + 0.5
        return signals.verdict()

    assert fail_checks_then_pass(1.0) == Verdict(SERVING, "")
    assert fail_checks_then_pass(3.0) == Verdict(EJECTED, "flapping; held out 2.0 s more")
    clock.now = 5.5
    assert signals.verdict().state == SERVING


def test_each_further_flap_doubles_the_hold() -> None:
    settings = HealthSettings(flap_window_s=1_000.0, flap_hold_s=2.0, flap_hold_max_s=1_000.0)
    signals, clock = _serving(settings)
    holds = [_hold_after_fall(signals, clock) for _ in range(4)]
    assert holds == [0.0, 2.0, 4.0, 8.0]


def test_holds_are_capped() -> None:
    settings = HealthSettings(flap_window_s=1_000.0, flap_hold_s=2.0, flap_hold_max_s=5.0)
    signals, clock = _serving(settings)
    holds = [_hold_after_fall(signals, clock) for _ in range(6)]
    assert holds == [0.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_falls_older_than_the_window_are_forgotten() -> None:
    signals, clock = _serving()
    _at(clock, signals, 1.0, NOT_SERVING)
    _at(clock, signals, 1.5, SERVING)
    # More than flap_window_s after the first fall, a fall is a first fall again.
    assert _at(clock, signals, 11.5, NOT_SERVING).state == NOT_SERVING
    assert _at(clock, signals, 12.0, SERVING) == Verdict(SERVING, "")
    # Yet this one is remembered: the next fall within the window is a flap.
    _at(clock, signals, 13.0, NOT_SERVING)
    assert _at(clock, signals, 13.5, SERVING).state == EJECTED


def test_a_provider_toggling_every_half_second_changes_the_verdict_at_most_three_times() -> None:
    signals, clock = _serving()
    routable = [True]
    # The provider toggles every 0.5 s for 10 s; the router judges every 0.1 s in between.
    for tick in range(1, 101):
        clock.now = tick / 10
        if tick % 5 == 0:
            signals.report(NOT_SERVING if tick % 10 == 5 else SERVING)
        routable.append(signals.verdict().state == SERVING)
    transitions = sum(a != b for a, b in itertools.pairwise(routable))
    assert 1 <= transitions <= 3
    assert routable[-1] is False  # still held out at the last toggle, which reported SERVING
    assert signals.reported == SERVING
    # Once it stays up, it is back within the longest hold.
    clock.now = 10.0 + SETTINGS.flap_hold_max_s
    assert signals.verdict() == Verdict(SERVING, "")
