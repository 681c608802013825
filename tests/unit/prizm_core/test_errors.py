"""PrizmError to a rich `google.rpc.Status` and back through a real `AioRpcError`."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from prizm_core.errors import DOMAIN, PrizmError, Reason, error_details, invalid_argument, unknown_settings

_DETAILS_KEY = "grpc-status-details-bin"


def _rpc_error(rich: status_pb2.Status, code: grpc.StatusCode | None = None) -> grpc.aio.AioRpcError:
    """The error a client sees when a server aborts with `rich`."""
    return grpc.aio.AioRpcError(
        code or grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == rich.code)),
        grpc.aio.Metadata(),
        grpc.aio.Metadata((_DETAILS_KEY, rich.SerializeToString())),
        details=rich.message,
    )


def _unpacked(rich: status_pb2.Status) -> dict[str, object]:
    found: dict[str, object] = {}
    for detail in rich.details:
        for message in (
            error_details_pb2.ErrorInfo(),
            error_details_pb2.RetryInfo(),
            error_details_pb2.BadRequest(),
        ):
            if detail.Unpack(message):
                found[type(message).__name__] = message
    return found


def test_rich_status_carries_error_info_with_domain_reason_and_metadata() -> None:
    error = PrizmError(
        grpc.StatusCode.NOT_FOUND, Reason.MODEL_NOT_FOUND, "no model 'x'", metadata={"model": "x"}
    )
    rich = error.to_rich_status()
    assert rich.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert rich.message == "no model 'x'"
    details = _unpacked(rich)
    assert set(details) == {"ErrorInfo"}
    info = details["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.domain, info.reason, dict(info.metadata)) == (DOMAIN, "MODEL_NOT_FOUND", {"model": "x"})
    assert DOMAIN == "prizm.dev"


def test_rich_status_carries_retry_info_only_when_retry_after_is_given() -> None:
    with_retry = PrizmError(
        grpc.StatusCode.UNAVAILABLE, Reason.NO_HEALTHY_PROVIDER, "later", retry_after_s=2.5
    )
    retry = _unpacked(with_retry.to_rich_status())["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (2, 500_000_000)
    without = PrizmError(grpc.StatusCode.UNAVAILABLE, Reason.NO_HEALTHY_PROVIDER, "later")
    assert "RetryInfo" not in _unpacked(without.to_rich_status())


def test_negative_retry_after_becomes_zero() -> None:
    error = PrizmError(grpc.StatusCode.UNAVAILABLE, Reason.NOT_RUNNING, "busy", retry_after_s=-3.0)
    retry = _unpacked(error.to_rich_status())["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (0, 0)


def test_rich_status_carries_bad_request_field_violations_in_order() -> None:
    error = PrizmError(
        grpc.StatusCode.INVALID_ARGUMENT,
        Reason.INVALID_OPTIONS,
        "bad",
        field_violations=[("options.speed", "must be at most 2"), ("options.voice", "unknown option")],
    )
    bad = _unpacked(error.to_rich_status())["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("options.speed", "must be at most 2"),
        ("options.voice", "unknown option"),
    ]


def test_to_status_puts_the_rich_status_in_the_trailer() -> None:
    error = PrizmError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.ROUTER_OVERLOADED, "slow down", retry_after_s=1.0
    )
    status = error.to_status()
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status.details == "slow down"
    trailer = dict(status.trailing_metadata)
    assert status_pb2.Status.FromString(trailer[_DETAILS_KEY]) == error.to_rich_status()


def test_round_trip_through_a_real_rpc_error_keeps_everything() -> None:
    sent = PrizmError(
        grpc.StatusCode.UNAVAILABLE,
        Reason.NO_HEALTHY_PROVIDER,
        "every provider of text-to-audio is unavailable",
        metadata={"capability": "text-to-audio"},
        retry_after_s=1.25,
        field_violations=[("routing.provider", "is down")],
    )
    rpc_error = _rpc_error(sent.to_rich_status())

    details = error_details(rpc_error)
    assert details.code == grpc.StatusCode.UNAVAILABLE
    assert details.message == "every provider of text-to-audio is unavailable"
    assert (details.reason, details.domain) == ("NO_HEALTHY_PROVIDER", DOMAIN)
    assert dict(details.metadata) == {"capability": "text-to-audio"}
    assert details.retry_after_s == pytest.approx(1.25)
    assert details.field_violations == (("routing.provider", "is down"),)

    received = PrizmError.from_rpc_error(rpc_error)
    assert (received.code, received.reason, received.message) == (sent.code, sent.reason, sent.message)
    assert received.metadata == sent.metadata
    assert received.retry_after_s == pytest.approx(1.25)
    assert received.field_violations == sent.field_violations
    assert received.retryable
    assert received.reason is Reason.NO_HEALTHY_PROVIDER
    assert str(received) == "UNAVAILABLE NO_HEALTHY_PROVIDER: every provider of text-to-audio is unavailable"


def test_rpc_error_without_details_trailer_gets_the_code_name_as_reason() -> None:
    rpc_error = grpc.aio.AioRpcError(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("other-key", "value")),
        details="Deadline Exceeded",
    )
    details = error_details(rpc_error)
    assert (details.reason, details.domain, details.retry_after_s) == ("", "", None)
    received = PrizmError.from_rpc_error(rpc_error)
    assert received.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert received.reason == "DEADLINE_EXCEEDED"
    assert received.message == "Deadline Exceeded"
    assert (received.metadata, received.retry_after_s, received.field_violations) == ({}, None, ())
    assert not received.retryable


def test_rpc_error_with_no_details_at_all_has_empty_message() -> None:
    rpc_error = grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata())
    received = PrizmError.from_rpc_error(rpc_error)
    assert (received.code, received.reason, received.message) == (grpc.StatusCode.INTERNAL, "INTERNAL", "")


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (grpc.StatusCode.UNAVAILABLE, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, True),
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.INTERNAL, False),
        (grpc.StatusCode.NOT_FOUND, False),
    ],
)
def test_retryable_follows_the_code(code: grpc.StatusCode, retryable: bool) -> None:
    assert PrizmError(code, Reason.INTERNAL_ERROR, "m").retryable is retryable


def test_invalid_argument_builds_invalid_argument_with_every_violation() -> None:
    error = invalid_argument([("inputs", "at least one input is required"), ("model", "unknown")])
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_INPUT"
    assert error.field_violations == (("inputs", "at least one input is required"), ("model", "unknown"))
    assert error.message == "invalid request: inputs: at least one input is required; model: unknown"
    bad = _unpacked(error.to_rich_status())["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == ["inputs", "model"]


def test_invalid_argument_takes_a_reason() -> None:
    error = invalid_argument([("options.n", "must be a whole number")], reason=Reason.INVALID_OPTIONS)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_OPTIONS")
    assert PrizmError.from_rpc_error(_rpc_error(error.to_rich_status())).field_violations == (
        ("options.n", "must be a whole number"),
    )


def test_an_error_echoing_a_long_request_still_fits_in_the_trailers() -> None:
    # 300 unknown settings with long names, in a script that percent-encodes to three bytes a byte.
    names = [f"{'é' * 100}-{n}" for n in range(300)]
    error = unknown_settings(names)
    status = error.to_rich_status()
    message_bytes = len(status.message.encode())
    details_bytes = len(status.SerializeToString())
    # What the trailers carry: the message percent-encoded, the details base64-encoded.
    assert 3 * message_bytes + 4 * details_bytes / 3 < 12 * 1024
    assert len(error.field_violations) == 11
    assert error.field_violations[-1] == ("…", "290 more not shown")
    assert error.field_violations[0][0].startswith("settings.éé") and error.field_violations[0][0].endswith(
        "…"
    )
    assert error.message.startswith("invalid request: settings.") and error.message.endswith("…")


def test_short_errors_are_kept_as_they_are() -> None:
    error = PrizmError(
        grpc.StatusCode.NOT_FOUND, Reason.MODEL_NOT_FOUND, "no model 'x'", metadata={"model": "x"}
    )
    assert (error.message, error.metadata) == ("no model 'x'", {"model": "x"})


def _with_info(reason: str, domain: str = DOMAIN, message: str = "refused") -> status_pb2.Status:
    rich = status_pb2.Status(code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message=message)
    rich.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata={"k": "v"}))
    return rich


def test_a_reason_this_client_does_not_know_stays_the_string_that_came() -> None:
    # A newer server may send a reason added after this client was built.
    received = PrizmError.from_rpc_error(_rpc_error(_with_info("QUOTA_OF_THE_FUTURE")))
    assert received.reason == "QUOTA_OF_THE_FUTURE"
    assert not isinstance(received.reason, Reason)
    assert (received.code, received.metadata) == (grpc.StatusCode.FAILED_PRECONDITION, {"k": "v"})
    assert str(received) == "FAILED_PRECONDITION QUOTA_OF_THE_FUTURE: refused"


def test_a_known_name_from_another_domain_is_not_taken_for_a_prizm_reason() -> None:
    received = PrizmError.from_rpc_error(_rpc_error(_with_info("MODEL_NOT_FOUND", domain="example.com")))
    assert received.reason == "MODEL_NOT_FOUND"
    assert not isinstance(received.reason, Reason)
    assert error_details(_rpc_error(_with_info("MODEL_NOT_FOUND", domain="example.com"))).domain == (
        "example.com"
    )


@pytest.mark.parametrize(
    "trailer",
    [
        b"\xff\xff not a google.rpc.Status",
        # A Status whose ErrorInfo is not an ErrorInfo inside.
        status_pb2.Status(
            code=grpc.StatusCode.FAILED_PRECONDITION.value[0],
            message="refused",
            details=[any_pb2.Any(type_url="type.googleapis.com/google.rpc.ErrorInfo", value=b"\xff\xff")],
        ).SerializeToString(),
    ],
)
def test_details_that_cannot_be_read_count_as_none(trailer: bytes) -> None:
    rpc_error = grpc.aio.AioRpcError(
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.aio.Metadata(),
        grpc.aio.Metadata((_DETAILS_KEY, trailer)),
        details="refused",
    )
    details = error_details(rpc_error)
    assert (details.code, details.message, details.reason, details.domain) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "refused",
        "",
        "",
    )
    assert PrizmError.from_rpc_error(rpc_error).reason == "FAILED_PRECONDITION"


@pytest.mark.parametrize(
    ("code", "message"),
    [(grpc.StatusCode.INTERNAL, "refused"), (grpc.StatusCode.FAILED_PRECONDITION, "something else")],
)
def test_details_that_disagree_with_the_status_count_as_none(code: grpc.StatusCode, message: str) -> None:
    # grpcio-status refuses details whose code or message is not the call's: they are not its own.
    rpc_error = _rpc_error(_with_info("MODEL_NOT_FOUND"), code)
    rpc_error = grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), rpc_error.trailing_metadata(), details=message
    )
    details = error_details(rpc_error)
    assert (details.code, details.message, details.reason, details.metadata) == (code, message, "", {})
    assert PrizmError.from_rpc_error(rpc_error).reason == code.name


def test_details_of_other_types_are_skipped() -> None:
    rich = _with_info("MODEL_NOT_FOUND")
    rich.details.add().Pack(error_details_pb2.DebugInfo(detail="stack"))
    received = PrizmError.from_rpc_error(_rpc_error(rich))
    assert (received.reason, received.metadata) == (Reason.MODEL_NOT_FOUND, {"k": "v"})
