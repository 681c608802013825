"""A small deterministic mutation engine for protobuf requests: every choice comes from one seeded
`random.Random`, so a case is reproduced by its seed and index alone.

Byte-level mutations (bit flips, insertions, deletions, truncation, random bytes, splices of two
requests) and structure-aware ones placed at any depth through the request's descriptor (unknown
fields of every wire type, invalid wire types, huge and overlong varints, extreme integers and
doubles, lengths past the end, invalid enum values, invalid UTF-8, very long strings, oversized
repeated fields, Struct/ListValue and group nesting 50 to 10,000 deep, messages over the size limits).
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor

from prizm_core.channels import MAX_MESSAGE_BYTES, RECEIVE_LIMIT_BYTES
from tests.fuzz.wire import (
    EGROUP,
    I32,
    I64,
    LEN,
    MAX_FIELD_NUMBER,
    SGROUP,
    VARINT,
    FieldPath,
    field_paths,
    length_delimited,
    tag,
    varint,
)

__all__ = ["Mutated", "Mutator"]

# Varints no encoder writes: 2^64 - 1 in ten bytes, zero padded to eleven, an unterminated run,
# and an eleventh byte past the longest legal varint.
HUGE_VARINTS = (
    b"\xff" * 9 + b"\x01",
    b"\x80" * 10 + b"\x00",
    b"\xff" * 12,
    b"\xff" * 10 + b"\x7f",
    b"\x80\x80\x80\x80\x10",
)
EXTREME_INTS = (0, 1, -1, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1)
EXTREME_DOUBLES = (float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324, 2.0**64)
BAD_ENUMS = (-1, 15, 99, 2**31 - 1, -(2**31), 2**32 + 1)
BAD_UTF8 = (
    b"\xff\xfe",
    b"abc\x80",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xf4\x90\x80\x80",
    b"a\x00b",
)
DEPTHS = (50, 99, 100, 101, 1_000, 10_000)
_STRUCT_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


@dataclass(frozen=True)
class Mutated:
    """The messages of one call and the names of the mutations that made them."""

    messages: tuple[bytes, ...]
    mutation: str


@functools.cache
def _deep_value(depth: int, style: str) -> bytes:
    """A `google.protobuf.Value` nested `depth` times through list_value (6) or struct_value (5)."""
    value = tag(2, I64) + struct.pack("<d", 1.0)
    for level in range(depth):
        if style == "list" or (style == "mixed" and level % 2):
            value = length_delimited(6, length_delimited(1, value))
        else:
            entry = length_delimited(1, b"k") + length_delimited(2, value)
            value = length_delimited(5, length_delimited(1, entry))
    return value


@functools.cache
def _deep_groups(depth: int, number: int) -> bytes:
    return tag(number, SGROUP) * depth + tag(number, EGROUP) * depth


class Mutator:
    """Mutations of the requests of one RPC, driven by a caller's `random.Random`."""

    def __init__(self, request: Descriptor, pool: Sequence[bytes]) -> None:
        self.request = request
        self.paths = field_paths(request)
        self.pool = pool  # requests of other RPCs, for splices
        self._by_kind: dict[str, list[FieldPath]] = {}
        for path in self.paths:
            self._by_kind.setdefault(path.kind, []).append(path)
        self._structs = [
            p
            for p in self.paths
            if p.kind == "message" and _message_type(request, p) in _STRUCT_TYPES and not p.outer
        ]
        self._mutations: list[tuple[str, float, Callable[[random.Random, bytes], bytes]]] = [
            ("bit_flip", 3, self.bit_flip),
            ("insert", 2, self.insert),
            ("delete", 2, self.delete),
            ("truncate", 2, self.truncate),
            ("unknown_field", 2, self.unknown_field),
            ("bad_wire_type", 1, self.bad_wire_type),
            ("huge_varint", 2, self.huge_varint),
            ("extreme_int", 2, self.extreme_int),
            ("extreme_double", 1, self.extreme_double),
            ("length_past_end", 1, self.length_past_end),
            ("invalid_enum", 2, self.invalid_enum),
            ("invalid_utf8", 2, self.invalid_utf8),
            ("deep_nesting", 1, self.deep_nesting),
            ("random_bytes", 2, self.random_bytes),
            ("empty", 0.5, lambda rng, raw: b""),
            ("oversized_repeated", 0.5, self.oversized_repeated),
            ("long_string", 0.5, self.long_string),
            ("splice", 1, self.splice),
            ("seed", 1, lambda rng, raw: raw),
            ("over_size_limit", 0.02, self.over_size_limit),
        ]
        self._weights = [weight for _, weight, _ in self._mutations]

    def mutate(self, rng: random.Random, raw: bytes) -> tuple[bytes, str]:
        """One message mutated once, or two or three times over (a quarter of the time)."""
        rounds = 1 if rng.random() < 0.75 else rng.randint(2, 3)
        names = []
        for _ in range(rounds):
            name, _, mutation = rng.choices(self._mutations, self._weights)[0]
            raw = mutation(rng, raw)
            names.append(name)
        return raw, "+".join(names)

    def mutate_stream(self, rng: random.Random, seed: Sequence[bytes]) -> Mutated:
        """A client stream: one message mutated, or the stream itself cut, doubled or reordered."""
        messages = list(seed)
        roll = rng.random()
        if roll < 0.7 and messages:
            index = rng.randrange(len(messages))
            messages[index], name = self.mutate(rng, messages[index])
            return Mutated(tuple(messages), f"{name}@{index}")
        if roll < 0.78:
            return Mutated((), "no_messages")
        if roll < 0.86:
            rng.shuffle(messages)
            return Mutated(tuple(messages), "reordered")
        if roll < 0.93:
            return Mutated(tuple(messages * rng.randint(2, 50)), "repeated_stream")
        return Mutated(tuple(messages[: rng.randrange(len(messages) + 1)]), "cut_stream")

    # Byte-level.
    def bit_flip(self, rng: random.Random, raw: bytes) -> bytes:
        if not raw:
            return bytes([1 << rng.randrange(8)])
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)

    def insert(self, rng: random.Random, raw: bytes) -> bytes:
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(raw))
            raw = raw[:at] + rng.randbytes(rng.randint(1, 16)) + raw[at:]
        return raw

    def delete(self, rng: random.Random, raw: bytes) -> bytes:
        for _ in range(rng.randint(1, 3)):
            if not raw:
                break
            at = rng.randrange(len(raw))
            raw = raw[:at] + raw[at + rng.randint(1, 8) :]
        return raw

    def truncate(self, rng: random.Random, raw: bytes) -> bytes:
        return raw[: rng.randrange(len(raw))] if raw else raw

    def random_bytes(self, rng: random.Random, raw: bytes) -> bytes:
        return rng.randbytes(rng.choice((1, 2, 3, 8, 64, 512, 4096)))

    def splice(self, rng: random.Random, raw: bytes) -> bytes:
        other = rng.choice(self.pool) if self.pool else raw
        return raw[: rng.randint(0, len(raw))] + other[rng.randint(0, len(other)) :]

    # Structure-aware: whole fields appended at the depth of a field of the request.
    def _path(self, rng: random.Random, *kinds: str) -> FieldPath | None:
        candidates = [p for kind in kinds for p in self._by_kind.get(kind, ())]
        return rng.choice(candidates) if candidates else None

    def _outer(self, rng: random.Random) -> tuple[int, ...]:
        messages = self._by_kind.get("message", [])
        if not messages or rng.random() < 0.4:
            return ()
        path = rng.choice(messages)
        return (*path.outer, path.number)

    def _at(self, rng: random.Random, raw: bytes, outer: tuple[int, ...], leaf: bytes) -> bytes:
        return raw + FieldPath(outer, 0, "", "").wrap(leaf)

    def unknown_field(self, rng: random.Random, raw: bytes) -> bytes:
        number = rng.choice((15, 99, 1000, 19_000, 536_870_911, rng.randint(16, MAX_FIELD_NUMBER)))
        leaf = rng.choice(
            (
                tag(number, VARINT) + varint(rng.choice(EXTREME_INTS)),
                tag(number, I64) + rng.randbytes(8),
                length_delimited(number, rng.randbytes(rng.randint(0, 64))),
                tag(number, SGROUP) + tag(1, VARINT) + b"\x01" + tag(number, EGROUP),
                tag(number, I32) + rng.randbytes(4),
            )
        )
        return self._at(rng, raw, self._outer(rng), leaf)

    def bad_wire_type(self, rng: random.Random, raw: bytes) -> bytes:
        number = rng.choice([p.number for p in self.paths] or [1])
        leaf = rng.choice(
            (
                tag(number, rng.choice((6, 7))) + b"\x00",
                tag(number, EGROUP),  # an end with no start
                tag(number, SGROUP) + tag(number + 1, EGROUP),  # a group closed by another number
                tag(0, VARINT) + b"\x00",  # field number 0
            )
        )
        return self._at(rng, raw, self._outer(rng), leaf)

    def huge_varint(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "varint", "enum")
        huge = rng.choice(HUGE_VARINTS)
        if path is None or rng.random() < 0.3:
            number = rng.choice([p.number for p in self.paths] or [1])
            return raw + rng.choice((tag(number, LEN) + huge, huge))  # as a length, or as a key
        return raw + path.wrap(tag(path.number, VARINT) + huge)

    def extreme_int(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "varint", "enum")
        if path is None:
            return self.unknown_field(rng, raw)
        return raw + path.wrap(tag(path.number, VARINT) + varint(rng.choice(EXTREME_INTS)))

    def extreme_double(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "fixed64")
        if path is None:
            return self.extreme_int(rng, raw)
        return raw + path.wrap(tag(path.number, I64) + struct.pack("<d", rng.choice(EXTREME_DOUBLES)))

    def invalid_enum(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "enum")
        if path is None:
            return self.extreme_int(rng, raw)
        return raw + path.wrap(tag(path.number, VARINT) + varint(rng.choice(BAD_ENUMS)))

    def invalid_utf8(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "string")
        if path is None:
            return self.unknown_field(rng, raw)
        return raw + path.wrap(length_delimited(path.number, rng.choice(BAD_UTF8)))

    def length_past_end(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "string", "bytes", "message")
        number = path.number if path else 1
        payload = rng.randbytes(rng.randint(0, 8))
        leaf = tag(number, LEN) + varint(len(payload) + rng.choice((1, 7, 2**31, 2**63))) + payload
        return raw + (path.wrap(leaf) if path and rng.random() < 0.5 else leaf)

    def long_string(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "string", "bytes")
        if path is None:
            return self.oversized_repeated(rng, raw)
        size = rng.choice((16 * 1024, 64 * 1024, 1024 * 1024))
        return raw + path.wrap(length_delimited(path.number, b"a" * size))

    def oversized_repeated(self, rng: random.Random, raw: bytes) -> bytes:
        path = self._path(rng, "message", "string", "bytes", "enum")
        count = rng.choice((1_000, 10_000, 100_000))
        if path is None:
            return raw + length_delimited(77, b"") * count
        if path.kind == "enum":
            element = tag(path.number, VARINT) + b"\x01"
        else:
            element = length_delimited(path.number, b"" if path.kind == "message" else b"x")
        return raw + path.wrap(element * count)

    def deep_nesting(self, rng: random.Random, raw: bytes) -> bytes:
        depth = rng.choice(DEPTHS)
        if self._structs and rng.random() < 0.75:
            path = rng.choice(self._structs)
            value = _deep_value(depth, rng.choice(("list", "struct", "mixed")))
            entry = length_delimited(1, b"events") + length_delimited(2, value)
            return raw + length_delimited(path.number, length_delimited(1, entry))
        return raw + _deep_groups(depth, rng.choice((1, 15, 1000)))

    def over_size_limit(self, rng: random.Random, raw: bytes) -> bytes:
        limit = rng.choice((MAX_MESSAGE_BYTES, RECEIVE_LIMIT_BYTES))
        return raw + length_delimited(99, bytes(limit + 1 - len(raw)))


def _message_type(request: Descriptor, path: FieldPath) -> str:
    field = request.fields_by_number.get(path.number) if not path.outer else None
    return field.message_type.full_name if field is not None and field.message_type else ""
