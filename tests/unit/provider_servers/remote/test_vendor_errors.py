"""`vendor_error` and `scrub`: every row of the mapping, Retry-After both ways, keys scrubbed."""

from __future__ import annotations

import email.utils

import grpc
import pytest

from prizm_core.errors import Reason
from provider_servers.remote import REDACTED, retry_after_seconds, scrub, vendor_error

CANARY = "sk-CANARY-3f9a1c77e2b04d1d"


@pytest.mark.parametrize(
    ("status", "flags", "code", "reason"),
    [
        (401, {}, grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED),
        (403, {}, grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED),
        (403, {"accepted": True}, grpc.StatusCode.FAILED_PRECONDITION, Reason.UPSTREAM_AUTH_FAILED),
        (429, {}, grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.UPSTREAM_RATE_LIMITED),
        (500, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (502, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (503, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (504, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (408, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (None, {}, grpc.StatusCode.UNAVAILABLE, Reason.UPSTREAM_UNAVAILABLE),
        (400, {"content_filtered": True}, grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED),
        (None, {"content_filtered": True}, grpc.StatusCode.INVALID_ARGUMENT, Reason.CONTENT_FILTERED),
        (400, {}, grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED),
        (404, {}, grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED),
        (422, {}, grpc.StatusCode.INVALID_ARGUMENT, Reason.UPSTREAM_REJECTED),
        (503, {"accepted": True}, grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED),
        (None, {"accepted": True}, grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED),
        (200, {"accepted": True}, grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED),
        (429, {"accepted": True}, grpc.StatusCode.ABORTED, Reason.UPSTREAM_JOB_FAILED),
    ],
)
def test_each_failure_maps_to_its_code_and_reason(
    status: int | None, flags: dict[str, bool], code: grpc.StatusCode, reason: Reason
) -> None:
    error = vendor_error(status, "the vendor's words", vendor="acme", **flags)
    assert (error.code, error.reason) == (code, reason)
    assert "the vendor's words" in error.message and "acme" in error.message
    assert error.metadata["vendor"] == "acme"


def test_a_rejection_names_the_http_status_and_is_not_retryable() -> None:
    error = vendor_error(422, "prompt is required", vendor="acme")
    assert error.metadata == {"vendor": "acme", "http_status": "422"}
    assert "HTTP 422" in error.message and not error.retryable


def test_unavailable_is_retryable_so_the_router_fails_over() -> None:
    error = vendor_error(None, "ConnectError: connection refused", vendor="acme")
    assert error.retryable and error.retry_after_s == 1.0
    assert "no response" in error.message


def test_429_carries_retry_after_in_seconds() -> None:
    error = vendor_error(429, "slow down", retry_after="7")
    assert error.retry_after_s == 7.0
    assert error.retryable


def test_429_carries_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert vendor_error(429, "slow down", retry_after=date, now=now).retry_after_s == 42.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("soon", None), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0)],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_a_past_http_date_means_retry_now() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_429_without_retry_after_has_no_retry_info() -> None:
    assert vendor_error(429, "quota").retry_after_s is None


def test_a_key_inside_the_vendor_message_is_scrubbed() -> None:
    words = f"Incorrect API key provided: {CANARY}. You can find your API key at https://x"
    error = vendor_error(401, words, vendor="openai")
    assert CANARY not in error.message and CANARY not in str(error)
    assert REDACTED in error.message and "Incorrect API key provided" in error.message


def test_a_long_vendor_message_is_clipped_to_fit_a_status() -> None:
    error = vendor_error(400, "x" * 5000)
    assert len(error.message.encode()) <= 512
    assert error.message.endswith("…")


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (f"key {CANARY} rejected", "rejected", CANARY),
        ("Authorization: Bearer abc123def456ghi789", "Authorization", "abc123def456ghi789"),
        (
            "header was Key 0b5c7a4e-3c2f-4a1b-9d8e-7f6a5b4c3d2e:9f8e7d6c5b4a39281706",
            "header was Key",
            "9f8e7d6c5b4a39281706",
        ),
        ("token r8_AbCdEf0123456789xyz is invalid", "is invalid", "r8_AbCdEf0123456789xyz"),
        ("ElevenLabs key sk_0123456789abcdef0123456789abcdef", "ElevenLabs key", "0123456789abcdef"),
        (
            "GET https://cdn.example/out.mp4?X-Amz-Signature=deadbeef99&X-Amz-Date=1",
            "X-Amz-Date=1",
            "deadbeef99",
        ),
        ("GET https://user:hunter2secret@example.com/x", "example.com/x", "hunter2secret"),
        ('{"api_key": "plainsecretvalue"}', '"api_key"', "plainsecretvalue"),
        ("xi-api-key: 0123456789abcdef", "xi-api-key", "0123456789abcdef"),
    ],
)
def test_scrub_removes_anything_that_looks_like_a_secret(text: str, kept: str, gone: str) -> None:
    scrubbed = scrub(text)
    assert REDACTED in scrubbed and kept in scrubbed
    assert gone not in scrubbed


def test_scrub_removes_the_secrets_given_even_when_they_look_like_words() -> None:
    assert scrub("the key is opensesame, really", "opensesame") == f"the key is {REDACTED}, really"


def test_scrub_leaves_ordinary_words_alone() -> None:
    text = "Invalid key provided; token expired; Bearer tokens are described in the docs"
    assert scrub(text) == text
