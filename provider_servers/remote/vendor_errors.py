"""One pure mapping from a vendor's HTTP failure to Prizm's error, so every vendor fails alike."""

from __future__ import annotations

import email.utils
import time

import grpc

from prizm_core.errors import PrizmError, Reason
from provider_servers.remote.scrubbing import scrub

__all__ = ["UNAVAILABLE_RETRY_S", "retry_after_seconds", "vendor_error"]

# How long a caller waits before retrying a vendor that could not be reached (RetryInfo).
UNAVAILABLE_RETRY_S = 1.0
# A vendor's words go into a status message: clipped well under its 512-byte limit.
_MAX_VENDOR_MESSAGE = 300
_UNAVAILABLE_STATUSES = frozenset({408, 502, 503, 504})


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date; None if absent
    or unreadable. A date in the past gives 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _clipped(message: str) -> str:
    text = " ".join(scrub(message).split())
    return text if len(text) <= _MAX_VENDOR_MESSAGE else text[: _MAX_VENDOR_MESSAGE - 1] + "…"


def _classify(status: int | None, accepted: bool, content_filtered: bool) -> tuple[grpc.StatusCode, Reason]:
    """Point 10 of the mapping: the content first (Stability AI refuses a prompt with a 403 whose
    body says `content_moderation`: not a key problem), then the key, then whether the vendor had
    the job (it may be billed: never failed over), then the status."""
    if content_filtered:
        return grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED
    if status in (401, 403):
        return grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED
    if accepted:
        return grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED
    if status == 429:
        return grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.UPSTREAM_RATE_LIMITED
    if status is None or status >= 500 or status in _UNAVAILABLE_STATUSES:
        return grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE
    return grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED


_MESSAGES = {
    Reason.UPSTREAM_AUTH_FAILED: "{who} refused the key ({code}): {words}; check the key",
    Reason.CONTENT_FILTERED: "{who} refused the content under its content policy: {words}",
    Reason.UPSTREAM_JOB_FAILED: "{who} job failed: {words}",
    Reason.UPSTREAM_RATE_LIMITED: "{who} rate limit or quota reached ({code}): {words}",
    Reason.UPSTREAM_UNAVAILABLE: "{who} is unavailable ({code}): {words}",
    Reason.UPSTREAM_REJECTED: "{who} rejected the request ({code}): {words}",
}


def vendor_error(
    status: int | None,
    message: str,
    *,
    retry_after: str | None = None,
    accepted: bool = False,
    content_filtered: bool = False,
    vendor: str = "",
    now: float | None = None,
) -> PrizmError:
    """The Prizm error for a vendor's failure: 401/403 `UPSTREAM_AUTH_FAILED`; content policy
    `CONTENT_FILTERED`; failed after acceptance `UPSTREAM_JOB_FAILED` (ABORTED); 429
    `UPSTREAM_RATE_LIMITED` (RetryInfo from Retry-After); 5xx, 408 or no response
    `UPSTREAM_UNAVAILABLE`; any other 4xx `UPSTREAM_REJECTED` (INVALID_ARGUMENT).

    Args:
        status: The HTTP status; None when no response came (connection error, timeout).
        message: The vendor's words (or what went wrong); scrubbed of secrets and clipped here.
        retry_after: The response's `Retry-After` header, if any.
        accepted: Whether the vendor had accepted the job before it failed.
        content_filtered: Whether the vendor refused the content under its policy.
        vendor: The vendor's name, for the message and `ErrorInfo.metadata`.
        now: The current time for an HTTP-date `Retry-After`; `time.time()` when None.
    """
    code, reason = _classify(status, accepted, content_filtered)
    metadata = {"vendor": vendor} if vendor else {}
    retry_after_s = None
    if reason == Reason.UPSTREAM_RATE_LIMITED:
        retry_after_s = retry_after_seconds(retry_after, now=now)
    elif reason == Reason.UPSTREAM_UNAVAILABLE:
        retry_after_s = retry_after_seconds(retry_after, now=now) or UNAVAILABLE_RETRY_S
    elif reason == Reason.UPSTREAM_REJECTED:
        metadata["http_status"] = str(status)
    text = _MESSAGES[reason].format(
        who=vendor or "the vendor",
        code="no response" if status is None else f"HTTP {status}",
        words=_clipped(message),
    )
    return PrizmError(code, reason, text, metadata=metadata, retry_after_s=retry_after_s)
