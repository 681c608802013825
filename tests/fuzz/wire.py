"""Protobuf wire format by hand: varints, tags and fields, and the paths to a message's fields of each
kind, so mutations can put exact bytes (bad UTF-8, huge varints, wrong lengths) at any depth."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor

__all__ = [
    "EGROUP",
    "I32",
    "I64",
    "LEN",
    "SGROUP",
    "VARINT",
    "FieldPath",
    "field_paths",
    "length_delimited",
    "nested",
    "tag",
    "varint",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
MAX_FIELD_NUMBER = 2**29 - 1
_MAX_DEPTH = 4  # paths this deep reach every field the requests have that a caller sets


def varint(value: int) -> bytes:
    """`value` as a base-128 varint; negative numbers as their 64-bit two's complement (10 bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    """The key of a field: its number and wire type."""
    return varint((number << 3) | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    """A LEN field: key, length, payload."""
    return tag(number, LEN) + varint(len(payload)) + payload


def nested(path: tuple[int, ...], leaf: bytes) -> bytes:
    """`leaf` (whole fields) wrapped in the messages of `path` (field numbers, outermost first).

    Appended to a serialized message, a repeated field gains an element and a singular message
    field merges with it, so the leaf lands at that depth in an otherwise valid request.
    """
    for number in reversed(path):
        leaf = length_delimited(number, leaf)
    return leaf


@dataclass(frozen=True)
class FieldPath:
    """A field somewhere in a request: the message fields leading to it, then its own number."""

    outer: tuple[int, ...]
    number: int
    name: str
    kind: str  # "string", "bytes", "enum", "varint", "fixed64", "fixed32", "message"

    def wrap(self, leaf: bytes) -> bytes:
        """Whole fields `leaf`, placed inside the message that holds this field."""
        return nested(self.outer, leaf)


_KINDS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_ENUM: "enum",
    FieldDescriptor.TYPE_MESSAGE: "message",
    FieldDescriptor.TYPE_DOUBLE: "fixed64",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_SFIXED64: "fixed64",
    FieldDescriptor.TYPE_FLOAT: "fixed32",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_SFIXED32: "fixed32",
}


def field_paths(message: Descriptor) -> list[FieldPath]:
    """Every field reachable from `message` through message fields, up to a fixed depth."""
    found: list[FieldPath] = []

    def walk(descriptor: Descriptor, outer: tuple[int, ...], names: str) -> None:
        for field in descriptor.fields:
            kind = _KINDS.get(field.type, "varint")
            name = f"{names}{field.name}"
            found.append(FieldPath(outer, field.number, name, kind))
            if kind == "message" and field.message_type is not None and len(outer) + 1 < _MAX_DEPTH:
                walk(field.message_type, (*outer, field.number), f"{name}.")

    walk(message, (), "")
    return found
