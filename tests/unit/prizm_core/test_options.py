"""`key=value` option parsing and the options' `Struct` form."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2
from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core.errors import PrizmError
from prizm_core.options import OptionValue, options_struct, parse_option


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("speed=1.5", ("speed", 1.5)),
        ("n=3", ("n", 3)),
        ("n=-2", ("n", -2)),
        ("flag=true", ("flag", True)),
        ("flag=false", ("flag", False)),
        ("voice=joe", ("voice", "joe")),
        ("text=null", ("text", "null")),
        ("a=b=c", ("a", "b=c")),
        ("empty=", ("empty", "")),
        ("list=[1, 2]", ("list", "[1, 2]")),
        ('quoted="joe"', ("quoted", '"joe"')),
    ],
)
def test_parse_option(text: str, expected: tuple[str, object]) -> None:
    key, value = parse_option(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["novalue", "=value", ""])
def test_parse_option_rejects_text_without_key_and_value(text: str) -> None:
    with pytest.raises(PrizmError) as caught:
        parse_option(text)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.reason == "INVALID_INPUT"
    assert [name for name, _ in caught.value.field_violations] == ["option"]
    assert repr(text) in caught.value.field_violations[0][1]


def test_options_struct_round_trip() -> None:
    values: dict[str, OptionValue] = {"speed": 1.5, "n": 3, "flag": True, "voice": "joe"}
    struct = options_struct(values)
    wire = struct_pb2.Struct.FromString(struct.SerializeToString())
    assert dict(wire) == values
    assert wire.fields["n"].number_value == 3.0
    assert wire.fields["flag"].bool_value is True
    assert wire.fields["voice"].string_value == "joe"
    assert wire.fields["speed"].number_value == 1.5


@pytest.mark.parametrize("values", [None, {}])
def test_options_struct_of_nothing_is_empty(values: dict[str, str] | None) -> None:
    assert options_struct(values).ByteSize() == 0


def test_parsed_options_survive_the_struct() -> None:
    parsed: dict[str, OptionValue] = dict(
        parse_option(text) for text in ["speed=0.75", "voice=amy", "seed=42", "loud=false"]
    )
    assert dict(options_struct(parsed)) == {"speed": 0.75, "voice": "amy", "seed": 42, "loud": False}


def _parameter(kind: int) -> catalog_pb.Parameter:
    return catalog_pb.Parameter(name="x", type=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (catalog_pb.PARAMETER_TYPE_STRING, "123", "123"),
        (catalog_pb.PARAMETER_TYPE_STRING, "true", "true"),
        (catalog_pb.PARAMETER_TYPE_STRING, "NaN", "NaN"),
        (catalog_pb.PARAMETER_TYPE_INTEGER, "3", 3),
        (catalog_pb.PARAMETER_TYPE_INTEGER, "3.0", 3),
        (catalog_pb.PARAMETER_TYPE_INTEGER, "3.5", 3.5),  # the provider rejects it, naming the field
        (catalog_pb.PARAMETER_TYPE_INTEGER, "three", "three"),
        (catalog_pb.PARAMETER_TYPE_NUMBER, "2", 2),
        (catalog_pb.PARAMETER_TYPE_NUMBER, "0.25", 0.25),
        (catalog_pb.PARAMETER_TYPE_NUMBER, "inf", "inf"),
        (catalog_pb.PARAMETER_TYPE_BOOLEAN, "yes", True),
        (catalog_pb.PARAMETER_TYPE_BOOLEAN, "OFF", False),
        (catalog_pb.PARAMETER_TYPE_BOOLEAN, "maybe", "maybe"),
    ],
)
def test_parse_option_types_values_by_the_models_schema(kind: int, raw: str, expected: object) -> None:
    key, value = parse_option(f"x={raw}", {"x": _parameter(kind)})
    assert (key, value) == ("x", expected)
    assert type(value) is type(expected)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_parse_option_never_guesses_a_non_finite_number(raw: str) -> None:
    assert parse_option(f"voice={raw}") == ("voice", raw)
