"""Removing secrets from text before it reaches a log line, an error message or a status."""

from __future__ import annotations

import re

__all__ = ["REDACTED", "scrub"]

REDACTED = "[redacted]"
# Secrets shorter than this are not searched for: a one-letter "key" would redact every word.
_MIN_SECRET = 6
_PATTERNS = (
    # An auth header's value, in any vendor's scheme: `Bearer sk-...`, `Key id:secret`, `Token r8_...`.
    # A word with a digit in it, so that "invalid key provided" stays as it is.
    (
        re.compile(r"(?i)\b(bearer|key|token|basic)(\s+)(?=[A-Za-z._~+/:=-]*\d)[A-Za-z0-9._~+/:=-]{8,}"),
        rf"\1\2{REDACTED}",
    ),
    # Key-shaped words: OpenAI and ElevenLabs (`sk-`, `sk_`), Replicate (`r8_`), fal (`uuid:hex`).
    (re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"\br8_[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"(?i)\b[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}:[0-9a-f]{8,}"), REDACTED),
    # Credentials in a URL: query parameters such as `?key=` or a signed URL's signature, and
    # `user:password@`.
    (
        re.compile(
            r"(?i)([?&](?:api[_-]?key|key|token|access_token|signature|x-amz-signature|sig)=)[^&\s\"']+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)(https?://)[^/\s:@]+:[^/\s@]+@"), rf"\1{REDACTED}@"),
    # JSON or header fields that hold a key: `"api_key": "..."`, `xi-api-key: ...`.
    (
        re.compile(
            r"(?i)([\"']?(?:api[_-]?key|xi-api-key|authorization|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
        ),
        rf"\1{REDACTED}",
    ),
)


def scrub(text: str, *secrets: str) -> str:
    """`text` with every secret given, and anything that looks like a key or token, replaced.

    Args:
        text: Text that may hold a secret: a vendor's error message, an exception, a URL.
        *secrets: Values known to be secret (the provider's key); empty ones are ignored.

    Returns:
        The text with each secret replaced by `[redacted]`.
    """
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
