"""Admission control: jobs in flight, overall and per caller, refused at once with RetryInfo."""

from __future__ import annotations

import contextlib

import grpc
import pytest

from prizm_core.errors import PrizmError
from prizm_core.router.admission import RETRY_AFTER_S, Admission


def _refusal(admission: Admission, caller: str) -> PrizmError:
    with pytest.raises(PrizmError) as refused, admission.admit(caller):
        pytest.fail("admitted beyond the limit")
    return refused.value


def test_admits_within_the_limits_and_counts_the_jobs() -> None:
    admission = Admission(max_jobs=3, max_jobs_per_caller=2)
    with admission.admit("alice"), admission.admit("alice"), admission.admit("bob"):
        assert admission.active == 3
        assert dict(admission.by_caller) == {"alice": 2, "bob": 1}
    assert admission.active == 0


def test_beyond_the_overall_limit_the_router_is_overloaded() -> None:
    admission = Admission(max_jobs=2, max_jobs_per_caller=10)
    with admission.admit("alice"), admission.admit("bob"):
        error = _refusal(admission, "carol")
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.reason == "ROUTER_OVERLOADED"
        assert error.retry_after_s == RETRY_AFTER_S == 0.5
        assert "2 jobs in flight" in error.message
        assert error.retryable
        # The refused caller holds nothing.
        assert admission.active == 2
        assert "carol" not in admission.by_caller
    with admission.admit("carol"):
        assert dict(admission.by_caller) == {"carol": 1}


def test_beyond_the_per_caller_limit_only_that_caller_is_refused() -> None:
    admission = Admission(max_jobs=10, max_jobs_per_caller=2)
    with admission.admit("alice"), admission.admit("alice"):
        error = _refusal(admission, "alice")
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.reason == "CALLER_CONCURRENCY_EXCEEDED"
        assert error.retry_after_s == RETRY_AFTER_S
        assert "2 jobs in flight" in error.message
        assert (admission.active, admission.by_caller["alice"]) == (2, 2)
        with admission.admit("bob"):
            assert admission.active == 3


def test_the_overall_limit_is_checked_first() -> None:
    admission = Admission(max_jobs=1, max_jobs_per_caller=1)
    with admission.admit("alice"):
        assert _refusal(admission, "alice").reason == "ROUTER_OVERLOADED"


def test_a_slot_is_released_when_the_block_raises() -> None:
    admission = Admission(max_jobs=1, max_jobs_per_caller=1)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="provider broke"), admission.admit("alice"):
            raise RuntimeError("provider broke")
        assert admission.active == 0
        assert dict(admission.by_caller) == {}
    with admission.admit("alice"):
        assert admission.active == 1


def test_callers_with_no_jobs_are_forgotten() -> None:
    admission = Admission(max_jobs=5_000, max_jobs_per_caller=1)
    with contextlib.ExitStack() as stack:
        for n in range(1_000):
            stack.enter_context(admission.admit(f"caller-{n}"))
        assert len(admission.by_caller) == 1_000
        assert admission.active == 1_000
    assert admission.active == 0
    assert len(admission.by_caller) == 0
    for n in range(1_000):
        with admission.admit(f"other-{n}"):
            pass
    assert len(admission.by_caller) == 0


def test_a_caller_is_kept_while_it_has_jobs() -> None:
    admission = Admission()
    with admission.admit("alice"):
        with admission.admit("alice"):
            assert admission.by_caller["alice"] == 2
        assert dict(admission.by_caller) == {"alice": 1}
    assert "alice" not in admission.by_caller
