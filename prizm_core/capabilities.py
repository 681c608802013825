"""Capabilities by name ("text-to-audio") and the media kinds each one takes and makes."""

from __future__ import annotations

from dataclasses import dataclass

from prizm.v1 import media_pb2 as media_pb

__all__ = ["CapabilityInfo", "all_capabilities", "capability_by_name", "capability_info"]

_KIND_BY_WORD = {
    "text": media_pb.MEDIA_KIND_TEXT,
    "image": media_pb.MEDIA_KIND_IMAGE,
    "audio": media_pb.MEDIA_KIND_AUDIO,
    "video": media_pb.MEDIA_KIND_VIDEO,
    "3d": media_pb.MEDIA_KIND_MODEL_3D,
}


@dataclass(frozen=True)
class CapabilityInfo:
    """A capability with its CLI name and the kinds of media it takes and makes."""

    value: media_pb.Capability.ValueType
    name: str
    input_kind: media_pb.MediaKind.ValueType
    output_kind: media_pb.MediaKind.ValueType


def _build() -> dict[int, CapabilityInfo]:
    table: dict[int, CapabilityInfo] = {}
    for enum_value in media_pb.Capability.DESCRIPTOR.values:
        if enum_value.number == media_pb.CAPABILITY_UNSPECIFIED:
            continue
        words = enum_value.name.removeprefix("CAPABILITY_").lower()
        source, target = words.split("_to_")
        value = media_pb.Capability.Value(enum_value.name)
        table[enum_value.number] = CapabilityInfo(
            value=value,
            name=f"{source}-to-{target}",
            input_kind=_KIND_BY_WORD[source],
            output_kind=_KIND_BY_WORD[target],
        )
    return table


_TABLE = _build()
_BY_NAME = {info.name: info for info in _TABLE.values()}


def all_capabilities() -> list[CapabilityInfo]:
    """Every capability of the contract, in enum order."""
    return list(_TABLE.values())


def capability_info(value: int) -> CapabilityInfo:
    """The capability with this enum value; KeyError for UNSPECIFIED or unknown values."""
    return _TABLE[value]


def capability_by_name(name: str) -> CapabilityInfo:
    """The capability named `name` (`text-to-audio` or `TEXT_TO_AUDIO`); KeyError if none."""
    key = name.strip().lower().replace("_", "-").removeprefix("capability-")
    return _BY_NAME[key]
