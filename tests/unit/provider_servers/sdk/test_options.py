"""Options checked against a model's parameters: defaults, bounds, types, all problems at once."""

from __future__ import annotations

import grpc
import pytest

from prizm_core.errors import PrizmError
from provider_servers.sdk.models import Param
from provider_servers.sdk.options import resolve_options

PARAMS = (
    Param(name="speed", type="number", default=1.0, minimum=0.5, maximum=2.0),
    Param(name="steps", type="integer", default=20, minimum=1, maximum=100),
    Param(name="voice", type="string", default="joe", choices=("joe", "amy")),
    Param(name="prompt", type="string", max_length=5),
    Param(name="loud", type="boolean", default=False),
    Param(name="seed", type="integer"),
)


def _violations(params: tuple[Param, ...], given: dict[str, object]) -> dict[str, str]:
    with pytest.raises(PrizmError) as caught:
        resolve_options(params, given)
    error = caught.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_OPTIONS"
    return dict(error.field_violations)


def test_defaults_are_filled_and_optional_options_without_default_left_out() -> None:
    assert resolve_options(PARAMS, {}) == {"speed": 1.0, "steps": 20, "voice": "joe", "loud": False}


def test_given_values_replace_defaults() -> None:
    resolved = resolve_options(
        PARAMS, {"speed": 2.0, "steps": 7, "voice": "amy", "prompt": "hello", "loud": True, "seed": 0}
    )
    assert resolved == {"speed": 2.0, "steps": 7, "voice": "amy", "prompt": "hello", "loud": True, "seed": 0}


def test_whole_float_for_integer_becomes_int() -> None:
    # A Struct carries every number as a double: 7 arrives as 7.0.
    resolved = resolve_options(PARAMS, {"steps": 7.0})
    assert resolved["steps"] == 7
    assert type(resolved["steps"]) is int


def test_bounds_are_inclusive() -> None:
    assert resolve_options(PARAMS, {"speed": 0.5, "steps": 100})["speed"] == 0.5
    assert resolve_options(PARAMS, {"speed": 2, "steps": 1})["steps"] == 1


@pytest.mark.parametrize(
    ("given", "field", "problem"),
    [
        ({"pitch": 3}, "options.pitch", "unknown option; accepted: loud, prompt, seed, speed, steps, voice"),
        ({"speed": 2.5}, "options.speed", "must be at most 2"),
        ({"speed": 0.1}, "options.speed", "must be at least 0.5"),
        ({"steps": 0}, "options.steps", "must be at least 1"),
        ({"steps": 2.5}, "options.steps", "must be a whole number"),
        ({"steps": "7"}, "options.steps", "must be a finite whole number"),
        ({"speed": "fast"}, "options.speed", "must be a finite number"),
        ({"speed": True}, "options.speed", "must be a finite number"),
        ({"steps": False}, "options.steps", "must be a finite whole number"),
        ({"speed": float("nan")}, "options.speed", "must be a finite number"),
        ({"speed": float("inf")}, "options.speed", "must be a finite number"),
        ({"loud": "yes"}, "options.loud", "must be true or false"),
        ({"loud": 1}, "options.loud", "must be true or false"),
        ({"voice": 3}, "options.voice", "must be a string"),
        ({"voice": "bob"}, "options.voice", "must be one of joe, amy"),
        ({"prompt": "toolong"}, "options.prompt", "must be at most 5 characters"),
    ],
)
def test_each_problem_is_a_field_violation(given: dict[str, object], field: str, problem: str) -> None:
    assert _violations(PARAMS, given) == {field: problem}


def test_required_option_missing() -> None:
    params = (Param(name="text", type="string", required=True), Param(name="n", type="integer", default=1))
    assert _violations(params, {"n": 2}) == {"options.text": "is required"}
    assert resolve_options(params, {"text": "hi"}) == {"text": "hi", "n": 1}


def test_required_option_given_a_bad_value_is_reported_once_as_bad() -> None:
    params = (Param(name="text", type="string", required=True, max_length=2),)
    assert _violations(params, {"text": "abc"}) == {"options.text": "must be at most 2 characters"}


def test_unknown_option_when_model_takes_none() -> None:
    assert _violations((), {"x": 1}) == {"options.x": "unknown option; accepted: none"}


def test_every_problem_is_reported_at_once() -> None:
    params = (*PARAMS, Param(name="text", type="string", required=True))
    with pytest.raises(PrizmError) as caught:
        resolve_options(params, {"pitch": 1, "speed": 9, "steps": 1.5, "voice": "bob", "loud": "no"})
    fields = [name for name, _ in caught.value.field_violations]
    assert sorted(fields) == [
        "options.loud",
        "options.pitch",
        "options.speed",
        "options.steps",
        "options.text",
        "options.voice",
    ]
    assert len(fields) == len(set(fields))
    for field in fields:
        assert field in caught.value.message


def test_unchecked_options_pass_as_given_and_declared_ones_are_still_checked() -> None:
    # A model whose schema is unknown (a Cog server without one): `ModelSpec.unchecked_options`.
    resolved = resolve_options(PARAMS[:1], {"times": 3.0, "sep": "+", "loud": True}, unchecked=True)
    assert resolved == {"speed": 1.0, "times": 3, "sep": "+", "loud": True}
    with pytest.raises(PrizmError) as caught:
        resolve_options(PARAMS[:1], {"speed": 9.0, "extra": None}, unchecked=True)
    assert set(dict(caught.value.field_violations)) == {"options.speed", "options.extra"}
