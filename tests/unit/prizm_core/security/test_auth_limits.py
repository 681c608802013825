"""Per-caller limits and the `auth:` config: rate, budget, capabilities, providers; errors by key path."""

from __future__ import annotations

import datetime
from pathlib import Path

import grpc
import pytest
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import model_service_pb2 as model_pb

from prizm_core.config import load_config
from prizm_core.config_values import ConfigError
from prizm_core.errors import PrizmError
from prizm_core.router.routing import Route
from prizm_core.security.callers import CallerPolicy, Identity, hash_key
from prizm_core.security.limits import CallerLimits, TokenBucket, authorize_job, charge_job, check_rate

TEXT = media_pb.CAPABILITY_TEXT_TO_TEXT
SPEECH = media_pb.CAPABILITY_TEXT_TO_AUDIO


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.wall = datetime.datetime(2026, 11, 27, 23, 0, 0, tzinfo=datetime.UTC)

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime.datetime:
        return self.wall


def _caller(clock: Clock, **policy: object) -> Identity:
    rules = CallerPolicy.model_validate(policy)
    return Identity("carol", rules, state=CallerLimits(rules, clock, clock.utc))


def _refusal(call: object) -> PrizmError:
    assert callable(call)
    with pytest.raises(PrizmError) as refused:
        call()
    return refused.value


def _completion(currency: str, amount: float) -> bytes:
    event = model_pb.TransformResponse()
    event.completion.cost.currency = currency
    event.completion.cost.amount = amount
    return event.SerializeToString()


def test_a_token_bucket_allows_a_burst_then_one_request_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2 / 60, capacity=2, clock=clock)
    assert [bucket.take(), bucket.take()] == [None, None]
    assert bucket.take() == pytest.approx(30.0)
    clock.now += 10
    assert bucket.take() == pytest.approx(20.0)  # refused takes cost nothing
    clock.now += 20
    assert bucket.take() is None


def test_the_rate_limit_refuses_with_retry_info_of_when_the_next_is_allowed() -> None:
    clock = Clock()
    carol = _caller(clock, requests_per_minute=6)
    for _ in range(6):
        check_rate(carol)
    error = _refusal(lambda: check_rate(carol))
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CALLER_RATE_LIMITED")
    assert error.retry_after_s == pytest.approx(10.0)
    assert "6 requests per minute" in error.message


def test_the_daily_budget_counts_completions_and_starts_again_at_utc_midnight() -> None:
    clock = Clock()
    carol = _caller(clock, cost_budget_per_day={"USD": 1.0})
    for _ in range(2):
        authorize_job(carol, Route(TEXT))
        charge_job(carol, _completion("USD", 0.4))
    charge_job(carol, _completion("EUR", 50.0))  # another currency: no budget, not limited
    charge_job(carol, b"\xff\xff not an event")  # unreadable: ignored, never raised
    authorize_job(carol, Route(TEXT))
    charge_job(carol, _completion("USD", 0.4))  # 1.2 spent: over
    error = _refusal(lambda: authorize_job(carol, Route(TEXT)))
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CALLER_BUDGET_EXCEEDED")
    assert error.retry_after_s == pytest.approx(3600.0)  # 23:00 UTC: an hour to midnight
    assert error.metadata == {"currency": "USD"}
    clock.wall += datetime.timedelta(hours=1, seconds=1)
    authorize_job(carol, Route(TEXT))


def test_capabilities_and_providers_outside_the_allow_lists_are_denied() -> None:
    clock = Clock()
    carol = _caller(clock, capabilities=["text-to-text"], providers=["synthetic"])
    error = _refusal(lambda: authorize_job(carol, Route(SPEECH)))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CAPABILITY_NOT_ALLOWED")
    assert error.message == "caller carol may use only: text-to-text"
    error = _refusal(lambda: authorize_job(carol, Route(TEXT, provider="openai")))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PROVIDER_NOT_ALLOWED")
    # With one provider allowed, a job naming none goes there, and never falls back elsewhere.
    route = authorize_job(carol, Route(TEXT, allow_fallback=True))
    assert (route.provider, route.allow_fallback) == ("synthetic", False)
    two = _caller(clock, providers=["piper", "espeak"])
    error = _refusal(lambda: authorize_job(two, Route(SPEECH)))
    assert error.reason == "PROVIDER_NOT_ALLOWED" and "name one in routing.provider" in error.message
    assert authorize_job(None, Route(SPEECH, allow_fallback=True)).allow_fallback  # auth off


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "router.yaml"
    path.write_text(text)
    return path


def test_the_auth_section_loads_keys_from_its_file_relative_to_the_config(tmp_path: Path) -> None:
    digest = hash_key("prizm_k")
    (tmp_path / "keys.yaml").write_text(
        f"api_keys:\n  - {{caller: alice, sha256: {digest}, revoked: true}}\n"
    )
    config = load_config(
        _config(
            tmp_path, "auth:\n  api_keys_file: keys.yaml\n  callers:\n    alice: {max_concurrent_jobs: 2}\n"
        )
    )
    assert config.auth.enabled
    ((key,),) = [config.auth.api_keys]
    assert (key.caller, key.sha256, key.revoked) == ("alice", digest, True)
    assert config.auth.callers["alice"].max_concurrent_jobs == 2
    assert not load_config(_config(tmp_path, "listen: 127.0.0.1:1\n")).auth.enabled


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("auth:\n  callers:\n    a: {max_concurrent_jobs: 0}\n", "auth.callers.a.max_concurrent_jobs: "),
        ("auth:\n  callers:\n    a: {capabilities: [text-to-smell]}\n", "unknown capability 'text-to-smell'"),
        (
            "auth:\n  callers:\n    a: {cost_budget_per_day: {usd: 1}}\n",
            "auth.callers.a.cost_budget_per_day.usd",
        ),
        ("auth:\n  api_keys: [{caller: a, sha256: nothex}]\n  callers: {a: {}}\n", "auth.api_keys.0.sha256"),
        (
            "auth:\n  api_keys: [{caller: b, sha256: '" + "0" * 64 + "'}]\n",
            "name caller(s) not in callers: b",
        ),
        ("auth:\n  jwt: {jwks_file: j.json}\n", "auth.jwt.issuer: Field required"),
        ("auth:\n  keys: []\n", "auth.keys: Extra inputs are not permitted"),
        ("auth:\n  api_keys_file: nowhere.yaml\n", "auth.api_keys_file: cannot read"),
    ],
)
def test_a_bad_auth_section_is_a_config_error_naming_the_key(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_config(tmp_path, text))
    assert problem in str(error.value)
