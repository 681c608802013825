"""The retry budget (gRFC A6): retries only while most attempts succeed."""

from __future__ import annotations

import pytest

from prizm_core.router.budget import RetryBudget


def _attempts(budget: RetryBudget, max_attempts: int, ok: bool) -> int:
    """Attempts one request makes against a provider that always answers `ok`, as the relay counts them."""
    attempts = 0
    while True:
        attempts += 1
        if ok:
            budget.success()
            return attempts
        budget.failure()
        if attempts >= max_attempts or not budget.allows_retry():
            return attempts


def test_starts_full_and_allows_retries() -> None:
    budget = RetryBudget()
    assert (budget.max_tokens, budget.token_ratio, budget.tokens) == (10.0, 0.1, 10.0)
    assert budget.allows_retry()
    assert RetryBudget(max_tokens=4.0).tokens == 4.0


def test_a_given_token_count_is_kept() -> None:
    assert RetryBudget(max_tokens=10.0, tokens=3.0).tokens == 3.0
    assert RetryBudget(max_tokens=10.0, tokens=0.0).tokens == 0.0


def test_retries_are_allowed_only_while_more_than_half_is_left() -> None:
    budget = RetryBudget(max_tokens=10.0)
    allowed = []
    for _ in range(6):
        budget.failure()
        allowed.append((budget.tokens, budget.allows_retry()))
    assert allowed == [(9.0, True), (8.0, True), (7.0, True), (6.0, True), (5.0, False), (4.0, False)]


def test_failure_takes_one_token_and_never_goes_below_zero() -> None:
    budget = RetryBudget(max_tokens=3.0)
    for expected in (2.0, 1.0, 0.0, 0.0, 0.0):
        budget.failure()
        assert budget.tokens == expected
    budget.success()
    assert budget.tokens == pytest.approx(0.1)


def test_success_returns_the_token_ratio_up_to_the_maximum() -> None:
    budget = RetryBudget(max_tokens=10.0, token_ratio=0.5, tokens=9.0)
    budget.success()
    assert budget.tokens == 9.5
    budget.success()
    assert budget.tokens == 10.0
    budget.success()
    assert budget.tokens == 10.0


def test_successes_earn_retries_back() -> None:
    budget = RetryBudget(max_tokens=10.0, token_ratio=0.1, tokens=5.0)
    assert not budget.allows_retry()
    budget.success()
    assert budget.allows_retry()
    # It takes ten successes to pay for one failure.
    budget.failure()
    assert not budget.allows_retry()
    for _ in range(10):
        budget.success()
    assert budget.tokens == pytest.approx(5.1)
    assert budget.allows_retry()


def test_a_provider_failing_everything_costs_about_one_attempt_per_request() -> None:
    budget = RetryBudget()
    per_request = [_attempts(budget, max_attempts=3, ok=False) for _ in range(100)]
    assert per_request[0] == 3  # the budget is full: the first failures are retried
    assert set(per_request[10:]) == {1}  # then the router stops retrying
    assert sum(per_request) / len(per_request) <= 1.1
    assert budget.tokens == 0.0


def test_a_healthy_provider_keeps_the_budget_full() -> None:
    budget = RetryBudget()
    assert [_attempts(budget, max_attempts=3, ok=True) for _ in range(100)] == [1] * 100
    assert budget.tokens == 10.0
    assert budget.allows_retry()
