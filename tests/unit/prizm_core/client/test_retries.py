"""When the client tries a refused job again: retryable codes with RetryInfo, bounded, within the deadline."""

from __future__ import annotations

import time

import grpc
import pytest

from prizm_core.client.retries import MAX_RETRY_DELAY_S, Deadline, retry_delay
from prizm_core.errors import PrizmError, Reason

NONE = Deadline(None)


def _error(code: grpc.StatusCode, retry_after_s: float | None) -> PrizmError:
    return PrizmError(code, Reason.PROVIDER_OVERLOADED, "busy", retry_after_s=retry_after_s)


def test_a_retryable_refusal_with_retry_info_waits_what_it_says() -> None:
    assert retry_delay(_error(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.5), 1, 3, NONE) == 0.5
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, 1.0), 2, 3, NONE) == 1.0


def test_attempts_are_bounded() -> None:
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, 1.0), 3, 3, NONE) is None
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, 1.0), 1, 1, NONE) is None


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INTERNAL],
)
def test_other_codes_are_never_tried_again_even_with_retry_info(code: grpc.StatusCode) -> None:
    assert retry_delay(_error(code, 0.1), 1, 3, NONE) is None


def test_without_retry_info_the_failure_goes_to_the_caller() -> None:
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, None), 1, 3, NONE) is None


def test_a_wait_past_the_deadline_or_too_long_is_not_made() -> None:
    soon = Deadline.after(0.2)
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, 1.0), 1, 3, soon) is None
    assert retry_delay(_error(grpc.StatusCode.UNAVAILABLE, 0.05), 1, 3, Deadline.after(10)) == 0.05
    too_long = MAX_RETRY_DELAY_S + 1
    assert retry_delay(_error(grpc.StatusCode.RESOURCE_EXHAUSTED, too_long), 1, 3, NONE) is None


def test_deadline_remaining() -> None:
    assert NONE.remaining() is None
    remaining = Deadline.after(5).remaining()
    assert remaining is not None and 4 < remaining <= 5
    assert Deadline(time.monotonic() - 1).remaining() == 0.001  # passed: the call fails by itself
