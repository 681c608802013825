"""What the CLI prints for a failure: one line per problem, never transport text."""

from __future__ import annotations

import grpc

from prizm_core.cli.explain import explain
from prizm_core.errors import PrizmError, Reason, invalid_argument


def test_each_field_violation_is_one_line_with_code_and_reason_and_none_is_repeated() -> None:
    error = invalid_argument(
        [("options.speed", "must be at most 2"), ("options.pitch", "not an option")], Reason.INVALID_OPTIONS
    )
    lines = explain(error, "127.0.0.1:50051")
    assert lines == [
        "error: INVALID_ARGUMENT INVALID_OPTIONS: options.speed: must be at most 2",
        "error: INVALID_ARGUMENT INVALID_OPTIONS: options.pitch: not an option",
    ]


def test_what_the_message_says_beyond_its_violations_stays_as_a_line_of_its_own() -> None:
    error = PrizmError(
        grpc.StatusCode.INVALID_ARGUMENT,
        Reason.INVALID_OPTIONS,
        "piper/en_US-joe-medium refused: options.speed: must be at most 2",
        field_violations=[("options.speed", "must be at most 2")],
    )
    assert explain(error, "x:1") == [
        "error: INVALID_ARGUMENT INVALID_OPTIONS: piper/en_US-joe-medium refused",
        "error: INVALID_ARGUMENT INVALID_OPTIONS: options.speed: must be at most 2",
    ]


def test_an_error_without_violations_is_its_message() -> None:
    error = PrizmError(grpc.StatusCode.FAILED_PRECONDITION, Reason.NO_PROVIDER_FOR_CAPABILITY, "none")
    assert explain(error, "x:1") == ["error: FAILED_PRECONDITION NO_PROVIDER_FOR_CAPABILITY: none"]


def _transport(code: grpc.StatusCode, message: str) -> PrizmError:
    """A status the client's own gRPC made: no ErrorInfo, as a failed call raises it."""
    failed = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=message)
    return PrizmError.from_rpc_error(failed)


def test_no_router_is_said_in_words_naming_the_address_tried() -> None:
    raw = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        "Failed to connect to remote host: Connection refused"
    )
    [line] = explain(_transport(grpc.StatusCode.UNAVAILABLE, raw), "127.0.0.1:1")
    assert line.startswith("error: UNAVAILABLE: no router at 127.0.0.1:1; start one with `prizm up`")
    assert "ipv4" not in line and "failed to connect" not in line
    dns = _transport(grpc.StatusCode.UNAVAILABLE, "DNS resolution failed for nowhere:1: C-ares status")
    assert explain(dns, "nowhere:1")[0].startswith("error: UNAVAILABLE: no router at nowhere:1")


def test_a_connection_lost_midway_is_not_called_a_missing_router() -> None:
    [line] = explain(_transport(grpc.StatusCode.UNAVAILABLE, "Socket closed"), "127.0.0.1:5")
    assert line == "error: UNAVAILABLE: lost the connection to the router at 127.0.0.1:5"
