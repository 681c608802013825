"""The one options validator, on the parameter schema as catalogs publish it."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core.errors import PrizmError
from prizm_core.option_schema import check_options, option_values, resolve_options
from provider_servers.sdk.convert import param_proto
from provider_servers.sdk.models import Param


def _parameter(name: str, kind: int, **fields: object) -> catalog_pb.Parameter:
    return catalog_pb.Parameter(name=name, type=kind, **fields)  # type: ignore[arg-type]


STEPS = _parameter(
    "steps",
    catalog_pb.PARAMETER_TYPE_INTEGER,
    minimum=1,
    maximum=100,
    default_value=struct_pb2.Value(number_value=20),
)
SPEED = _parameter("speed", catalog_pb.PARAMETER_TYPE_NUMBER, minimum=0.5, maximum=2.0)

SPEED_WITH_DEFAULT = _parameter(
    "speed",
    catalog_pb.PARAMETER_TYPE_NUMBER,
    minimum=0.5,
    maximum=2.0,
    default_value=struct_pb2.Value(number_value=1.0),
)


def test_an_integer_default_comes_back_whole() -> None:
    # A Struct number is a double on the wire: the default 20 is 20.0 there.
    resolved = resolve_options([STEPS], {})
    assert resolved == {"steps": 20}
    assert type(resolved["steps"]) is int


def test_bounds_are_read_only_when_set() -> None:
    unbounded = _parameter("seed", catalog_pb.PARAMETER_TYPE_INTEGER)
    assert resolve_options([unbounded], {"seed": -5.0}) == {"seed": -5}
    assert check_options([SPEED], {"speed": 0.0})[1] == [("options.speed", "must be at least 0.5")]


def test_check_reports_without_raising_and_resolve_raises_the_same() -> None:
    given = {"speed": 3.0, "steps": 0, "pitch": 1}
    resolved, violations = check_options([STEPS, SPEED], given)
    assert violations == [
        ("options.pitch", "unknown option; accepted: speed, steps"),
        ("options.speed", "must be at most 2"),
        ("options.steps", "must be at least 1"),
    ]
    assert resolved == {}
    with pytest.raises(PrizmError) as caught:
        resolve_options([STEPS, SPEED], given)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
    assert list(caught.value.field_violations) == violations


def test_a_type_this_prizm_does_not_know_is_refused_not_guessed() -> None:
    future = _parameter("mood", 99)
    assert check_options([future], {"mood": "calm"})[1] == [
        ("options.mood", "has a parameter type this Prizm does not know (99)")
    ]


def test_malformed_struct_values_are_refused_per_field() -> None:
    options = struct_pb2.Struct()
    options.fields["steps"].list_value.values.add(number_value=1)
    options.fields["speed"].CopyFrom(struct_pb2.Value())  # no kind set
    options.fields["voice"].null_value = struct_pb2.NULL_VALUE
    voice = _parameter("voice", catalog_pb.PARAMETER_TYPE_STRING)
    _, violations = check_options([STEPS, SPEED, voice], option_values(options))
    assert violations == [
        ("options.speed", "has no value (a google.protobuf.Value with no kind set)"),
        ("options.steps", "must be an integer, not a list or an object"),
        ("options.voice", "must be a string"),
    ]


def test_the_sdk_and_the_catalog_check_alike() -> None:
    # What a provider declares and what the router reads from its catalog are the same schema.
    param = Param(name="speed", type="number", default=1.0, minimum=0.5, maximum=2.0)
    for value in (0.4, 1.5, 2.5, "fast", True):
        assert check_options([param_proto(param)], {"speed": value}) == check_options(
            [SPEED_WITH_DEFAULT], {"speed": value}
        )
