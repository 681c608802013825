"""Prizm's one error type and its mapping to and from rich gRPC statuses (`google.rpc.Status`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from prizm_core.reasons import Reason

__all__ = [
    "DOMAIN",
    "ErrorDetails",
    "PrizmError",
    "Reason",
    "error_details",
    "invalid_argument",
    "unknown_settings",
]

DOMAIN = "prizm.dev"
# An error travels in the trailers, where a client takes 16 KiB at most (gRPC's default) and the
# message is percent-encoded (up to 3 bytes a byte) and the details base64 (4 per 3). An error that
# echoes what the caller sent (a long option name, 300 unknown settings) must still fit, or the
# caller gets RESOURCE_EXHAUSTED "metadata size exceeds hard limit" instead: every piece is clipped
# (UTF-8 bytes), which keeps the whole under 9 KiB.
_MAX_MESSAGE_BYTES = 512
_MAX_VIOLATIONS = 10
_MAX_FIELD_BYTES = 128
_MAX_DESCRIPTION_BYTES = 256
_MAX_METADATA = 8
_MAX_METADATA_BYTES = 128


class PrizmError(Exception):
    """An error with a gRPC code, a stable reason and optional rich details.

    Raised anywhere in Prizm's servers and its client; the handler wrapper turns
    it into the RPC status, with `google.rpc.ErrorInfo`, and `RetryInfo` /
    `BadRequest` where given. Messages must never hold secrets.

    Attributes:
        code: The gRPC status code.
        reason: The stable reason: always a `Reason` when raised here. An error
            decoded by `from_rpc_error` keeps a reason this code does not know
            (a newer server's, another domain's) as the string that came, and a
            status without `ErrorInfo` has its code's name (e.g. `UNAVAILABLE`).
        message: The human-readable message, clipped to fit in the trailers.
        metadata: `ErrorInfo.metadata`, e.g. the job id.
        retry_after_s: `RetryInfo.retry_delay` in seconds, if a retry can help.
        field_violations: `BadRequest` field violations as `(field, problem)`.
    """

    reason: Reason | str

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: Reason,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        retry_after_s: float | None = None,
        field_violations: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Builds the error; every piece is clipped so that the status fits in gRPC's trailers.

        Args:
            code: The gRPC status code.
            reason: The stable reason, one of the registry in `error_reason.proto`.
            message: What went wrong, for people; never a secret.
            metadata: `ErrorInfo.metadata`, at most 8 entries.
            retry_after_s: When a retry can help, after how long (`RetryInfo`).
            field_violations: `(field, problem)` pairs for `BadRequest`, at most 10 shown.
        """
        self._fill(
            code,
            reason,
            message,
            metadata=metadata or {},
            retry_after_s=retry_after_s,
            field_violations=field_violations,
        )

    def _fill(
        self,
        code: grpc.StatusCode,
        reason: Reason | str,
        message: str,
        *,
        metadata: Mapping[str, str],
        retry_after_s: float | None,
        field_violations: Sequence[tuple[str, str]],
    ) -> None:
        message = _clip(message, _MAX_MESSAGE_BYTES)
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = {
            _clip(key, _MAX_METADATA_BYTES): _clip(value, _MAX_METADATA_BYTES)
            for key, value in list(metadata.items())[:_MAX_METADATA]
        }
        self.retry_after_s = retry_after_s
        self.field_violations = _clipped_violations(field_violations)

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later without change."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def to_rich_status(self) -> status_pb2.Status:
        """The `google.rpc.Status` carrying this error and its details."""
        details = [
            _pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata))
        ]
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(round(max(self.retry_after_s, 0.0) * 1e9))
            details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        if self.field_violations:
            violations = [
                error_details_pb2.BadRequest.FieldViolation(field=name, description=text)
                for name, text in self.field_violations
            ]
            details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=details)

    def to_status(self) -> grpc.Status:
        """The `grpc.Status` to abort an RPC with."""
        status: grpc.Status = rpc_status.to_status(self.to_rich_status())
        return status

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> PrizmError:
        """The error a failed call carries: code, reason, message and rich details.

        A reason of Prizm's domain that this code knows comes back as its `Reason`;
        any other reason stays the string that came (see `reason`).
        """
        details = error_details(error)
        reason = _known_reason(details) or details.reason or details.code.name
        # Past the constructor, which takes only a `Reason` so that no raise site invents one.
        received = cls.__new__(cls)
        received._fill(
            details.code,
            reason,
            details.message,
            metadata=details.metadata,
            retry_after_s=details.retry_after_s,
            field_violations=details.field_violations,
        )
        return received

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message}"


def _clip(text: str, limit: int) -> str:
    """`text` as valid UTF-8, cut to at most `limit` bytes (with an ellipsis) if it is longer."""
    data = text.encode("utf-8", "replace")  # a lone surrogate could not go into a status
    if len(data) <= limit:
        return data.decode("utf-8")
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _clipped_violations(violations: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    kept = tuple(
        (_clip(name, _MAX_FIELD_BYTES), _clip(text, _MAX_DESCRIPTION_BYTES))
        for name, text in violations[:_MAX_VIOLATIONS]
    )
    left = len(violations) - len(kept)
    return (*kept, ("…", f"{left} more not shown")) if left > 0 else kept


def invalid_argument(
    violations: Sequence[tuple[str, str]], reason: Reason = Reason.INVALID_INPUT
) -> PrizmError:
    """INVALID_ARGUMENT with one `BadRequest` field violation per `(field, problem)`."""
    summary = "; ".join(f"{name}: {text}" for name, text in violations)
    return PrizmError(
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
        f"invalid request: {summary}",
        field_violations=violations,
    )


def unknown_settings(names: Iterable[str]) -> PrizmError:
    """INVALID_ARGUMENT, reason UNKNOWN_SETTING, naming each setting (never its value)."""
    return invalid_argument(
        [(f"settings.{name}", "unknown setting") for name in sorted(names)], Reason.UNKNOWN_SETTING
    )


def _pack(
    message: error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo | error_details_pb2.BadRequest,
) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@dataclass(frozen=True)
class ErrorDetails:
    """What a caller can read from a failed RPC's status."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    retry_after_s: float | None = None
    field_violations: tuple[tuple[str, str], ...] = ()


def error_details(error: grpc.aio.AioRpcError) -> ErrorDetails:
    """Decodes the code, message, `ErrorInfo`, `RetryInfo` and `BadRequest` of a failed call.

    Details that cannot be read (not a `google.rpc.Status`, or one whose code or
    message disagree with the call's) count as none: the code and message remain.
    """
    code = error.code()
    message = error.details() or ""
    try:
        # An AioRpcError answers code(), details() and trailing_metadata() as a grpc.Call does,
        # which is all that from_call reads.
        rich = rpc_status.from_call(cast("grpc.Call", error))
        if rich is None:
            return ErrorDetails(code=code, message=message)
        return _decoded(code, message, rich)
    except (DecodeError, ValueError):  # whoever answered sent details we cannot trust: none
        return ErrorDetails(code=code, message=message)


def _decoded(code: grpc.StatusCode, message: str, rich: status_pb2.Status) -> ErrorDetails:
    """The `ErrorDetails` of a decoded `google.rpc.Status`; other detail types are skipped."""
    info = error_details_pb2.ErrorInfo()
    retry = error_details_pb2.RetryInfo()
    bad = error_details_pb2.BadRequest()
    retry_after: float | None = None
    violations: list[tuple[str, str]] = []
    for detail in rich.details:  # Unpack fills the message only when the type matches
        if detail.Unpack(retry):
            retry_after = max(retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9, 0.0)
        elif detail.Unpack(bad):
            violations.extend((v.field, v.description) for v in bad.field_violations)
        else:
            detail.Unpack(info)
    return ErrorDetails(
        code=code,
        message=message,
        reason=info.reason,
        domain=info.domain,
        metadata=dict(info.metadata),
        retry_after_s=retry_after,
        field_violations=tuple(violations),
    )


def _known_reason(details: ErrorDetails) -> Reason | None:
    """The `Reason` of Prizm's domain that `details` carries, if this code knows it."""
    if details.domain != DOMAIN:
        return None
    try:
        return Reason(details.reason)
    except ValueError:  # none, or a reason newer than this code
        return None
