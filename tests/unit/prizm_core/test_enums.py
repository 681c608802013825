"""The Python enums mirror the proto enums exactly: same names (unprefixed), same numbers."""

from __future__ import annotations

from enum import IntEnum

import pytest
from google.protobuf.descriptor import EnumDescriptor
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import job_pb2 as job_pb
from prizm.v1 import media_pb2 as media_pb

from prizm_core.enums import Capability, JobState, MediaKind, MediaUnit, ProviderKind

MIRRORS: list[tuple[type[IntEnum], EnumDescriptor, str]] = [
    (Capability, media_pb.Capability.DESCRIPTOR, "CAPABILITY_"),
    (MediaKind, media_pb.MediaKind.DESCRIPTOR, "MEDIA_KIND_"),
    (ProviderKind, catalog_pb.ProviderKind.DESCRIPTOR, "PROVIDER_KIND_"),
    (MediaUnit, catalog_pb.MediaUnit.DESCRIPTOR, "MEDIA_UNIT_"),
    (JobState, job_pb.JobState.DESCRIPTOR, "JOB_STATE_"),
]


@pytest.mark.parametrize(("mirror", "descriptor", "prefix"), MIRRORS, ids=[m.__name__ for m, _, _ in MIRRORS])
def test_each_mirror_has_exactly_the_proto_values_but_unspecified(
    mirror: type[IntEnum], descriptor: EnumDescriptor, prefix: str
) -> None:
    proto = {v.name.removeprefix(prefix): v.number for v in descriptor.values}
    assert proto.pop("UNSPECIFIED") == 0
    assert {member.name: member.value for member in mirror} == proto


def test_members_are_the_wire_numbers() -> None:
    assert Capability.TEXT_TO_AUDIO == media_pb.CAPABILITY_TEXT_TO_AUDIO == 10
    assert MediaKind(media_pb.MEDIA_KIND_MODEL_3D) is MediaKind.MODEL_3D
    assert ProviderKind.LOCAL == catalog_pb.PROVIDER_KIND_LOCAL
    assert MediaUnit(catalog_pb.MEDIA_UNIT_OUTPUT_AUDIO_SECOND) is MediaUnit.OUTPUT_AUDIO_SECOND
    with pytest.raises(ValueError, match="0 is not a valid MediaKind"):
        MediaKind(media_pb.MEDIA_KIND_UNSPECIFIED)
