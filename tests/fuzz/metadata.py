"""Metadata mutations: what a gRPC client library will send (oversized, many keys, odd but legal
keys, Prizm's own headers with junk values, `-bin` keys with random bytes), and the header bytes
only a bare HTTP/2 client sends (values that are not ASCII or not UTF-8, control characters, keys
a library refuses)."""

from __future__ import annotations

import random

__all__ = ["RAW_HEADERS", "Metadata", "metadata_mutation"]

Metadata = tuple[tuple[str, str | bytes], ...]

_JUNK_VALUES = ("", "0", "-1", "99999999999999999999999", "abc", "1e9", " 5 ", "nan", "x" * 300)
_PRIZM_KEYS = (
    "prizm-caller",
    "prizm-heartbeat-ms",
    "prizm-asset-source",
    "prizm-job-id",
    "traceparent",
    "tracestate",
    "x-request-id",
)


def _many_keys(rng: random.Random) -> Metadata:
    return tuple((f"x-fuzz-{index}", "v") for index in range(1_000))


def _large_value(rng: random.Random) -> Metadata:
    return (("x-fuzz", "a" * rng.choice((8 * 1024, 20 * 1024, 64 * 1024))),)


def _binary(rng: random.Random) -> Metadata:
    return (("x-fuzz-bin", rng.randbytes(rng.choice((0, 1, 100, 4096)))),)


def _prizm_junk(rng: random.Random) -> Metadata:
    return tuple((key, rng.choice(_JUNK_VALUES)) for key in rng.sample(_PRIZM_KEYS, rng.randint(1, 3)))


def _odd_keys(rng: random.Random) -> Metadata:
    keys = ("x.y_z-", "_", "...", "0", "a" * 1000, "prizm-caller-bin", "grpc-fuzz", "x-" + "-" * 50)
    plain = tuple((key, "v") for key in rng.sample(keys, 3) if not key.endswith("-bin"))
    return (*plain, ("prizm-caller-bin", rng.randbytes(8)))


def _repeated_key(rng: random.Random) -> Metadata:
    return tuple(("prizm-caller", f"caller-{index}") for index in range(rng.choice((2, 50, 500))))


_MUTATIONS = {
    "many_keys": _many_keys,
    "large_value": _large_value,
    "binary": _binary,
    "prizm_junk": _prizm_junk,
    "odd_keys": _odd_keys,
    "repeated_key": _repeated_key,
}


def metadata_mutation(rng: random.Random) -> tuple[Metadata, str]:
    """Metadata a gRPC library sends as it is, and the name of its mutation."""
    name = rng.choice(sorted(_MUTATIONS))
    return _MUTATIONS[name](rng), name


# (name, extra header fields as raw bytes) for calls made over a bare HTTP/2 connection.
RAW_HEADERS: tuple[tuple[str, tuple[tuple[bytes, bytes], ...]], ...] = (
    ("utf8_not_ascii", ((b"x-fuzz", "caf\u00e9 \u2603 \u202eevil".encode()),)),
    ("not_utf8", ((b"x-fuzz", b"abc\xff\xfe\x80"),)),
    ("not_utf8_caller", ((b"prizm-caller", b"\xff\xfe caller"),)),
    ("not_utf8_heartbeat", ((b"prizm-heartbeat-ms", b"\xff100"),)),
    ("not_utf8_asset_source", ((b"prizm-asset-source", b"127.0.0.1:\xff1"),)),
    ("not_utf8_traceparent", ((b"traceparent", b"00-\xff\xfe-01"),)),
    ("control_chars", ((b"x-fuzz", b"a\x01\x1b[2Jb\x7f"),)),
    ("nul_and_newline", ((b"x-fuzz", b"a\x00b\r\nforged: line"),)),
    ("upper_case_key", ((b"X-Fuzz", b"v"),)),
    ("odd_key", ((b"x fuzz:\xff", b"v"),)),
    ("empty_key", ((b"", b"v"),)),
    ("bad_timeout", ((b"grpc-timeout", b"99999999999H"),)),
    ("junk_timeout", ((b"grpc-timeout", b"\xff\xfe"),)),
    ("bad_bin_value", ((b"x-fuzz-bin", b"!!!not base64\xff"),)),
    ("value_20_kib", ((b"x-fuzz", b"\xe9" * 20 * 1024),)),
    ("keys_1000", tuple((f"x-fuzz-{i}".encode(), b"\xff") for i in range(1_000))),
)
