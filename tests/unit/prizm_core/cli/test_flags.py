"""Flag values are checked as they are parsed, with suggestions for near misses."""

from __future__ import annotations

import argparse

import grpc
import pytest

from prizm_core.cli.flags import (
    capability_name,
    did_you_mean,
    option_text,
    policy_name,
    positive_count,
    positive_seconds,
    router_address_flag,
    utf8_text,
    waiting_seconds,
)
from prizm_core.errors import PrizmError


def test_did_you_mean_names_the_closest_known_words() -> None:
    assert did_you_mean("sped", ["speed", "volume", "sentence_silence"]) == "; did you mean speed?"
    assert did_you_mean("zzz", ["speed"]) == ""
    assert did_you_mean("widht", ["width", "wide", "height"]) == "; did you mean width or wide?"


@pytest.mark.parametrize("text", ["-1", "0", "abc", "nan", "inf", ""])
def test_a_deadline_must_be_a_finite_number_above_zero(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_seconds(text)


def test_good_values_pass_as_their_type() -> None:
    assert positive_seconds("2.5") == 2.5
    assert waiting_seconds("0") == 0.0
    assert positive_count("3") == 3
    assert option_text("voice=de") == "voice=de"
    assert option_text("note=a=b") == "note=a=b"
    assert router_address_flag("[::1]:50051") == "[::1]:50051"
    assert policy_name("least-loaded") == "least-loaded"


@pytest.mark.parametrize(
    ("check", "text"),
    [
        (waiting_seconds, "-0.5"),
        (option_text, "novalue"),
        (option_text, "=1"),
        (router_address_flag, "localhost"),
        (router_address_flag, "host:99999"),
        (policy_name, "fastest"),
        (positive_count, "0"),
        (utf8_text, "\udcff"),
        (option_text, "key=\udcff"),
    ],
)
def test_bad_values_are_usage_errors(check: object, text: str) -> None:
    assert callable(check)
    with pytest.raises(argparse.ArgumentTypeError):
        check(text)


def test_a_capability_by_its_cli_or_proto_name_and_a_near_miss_gets_a_suggestion() -> None:
    assert capability_name("TEXT_TO_AUDIO") == "text-to-audio"
    with pytest.raises(PrizmError) as failure:
        capability_name("text-to-audoi")
    assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.reason == "UNKNOWN_CAPABILITY"
    assert "did you mean text-to-audio" in failure.value.message
