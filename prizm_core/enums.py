"""Python mirrors of the `prizm.v1` enums that code outside the wire uses, with unprefixed names.

Each member's value is its proto number, so a member converts to and from the wire with `int()`
and `Enum(value)`; `tests/unit/prizm_core/test_enums.py` keeps them equal to the protos. The
`_UNSPECIFIED` zero values are left out on purpose: a domain value is always a real one, and the
servers reject an unset or unknown number where a request comes in.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Capability", "JobState", "MediaKind", "MediaUnit", "ProviderKind"]


class MediaKind(IntEnum):
    """The kind of a media asset (`prizm.v1.MediaKind`)."""

    TEXT = 1
    IMAGE = 2
    AUDIO = 3
    VIDEO = 4
    MODEL_3D = 5


class Capability(IntEnum):
    """A transformation from one media kind to another (`prizm.v1.Capability`)."""

    TEXT_TO_TEXT = 1
    TEXT_TO_IMAGE = 2
    IMAGE_TO_IMAGE = 3
    IMAGE_TO_TEXT = 4
    TEXT_TO_VIDEO = 5
    IMAGE_TO_VIDEO = 6
    VIDEO_TO_VIDEO = 7
    VIDEO_TO_IMAGE = 8
    VIDEO_TO_AUDIO = 9
    TEXT_TO_AUDIO = 10
    AUDIO_TO_TEXT = 11
    AUDIO_TO_AUDIO = 12
    TEXT_TO_3D = 13
    IMAGE_TO_3D = 14


class ProviderKind(IntEnum):
    """Where a provider does its work (`prizm.v1.ProviderKind`)."""

    REMOTE = 1
    LOCAL = 2
    CONTAINER = 3


class MediaUnit(IntEnum):
    """A unit that work is measured and priced in (`prizm.v1.MediaUnit`)."""

    REQUEST = 1
    INPUT_CHARACTER = 2
    INPUT_TOKEN = 3
    OUTPUT_TOKEN = 4
    INPUT_AUDIO_SECOND = 5
    OUTPUT_AUDIO_SECOND = 6
    INPUT_VIDEO_SECOND = 7
    OUTPUT_VIDEO_SECOND = 8
    OUTPUT_IMAGE = 9
    OUTPUT_MEGAPIXEL = 10
    COMPUTE_SECOND = 11


class JobState(IntEnum):
    """Where a job is in its life (`prizm.v1.JobState`)."""

    QUEUED = 1
    STARTING = 2
    RUNNING = 3
    UPLOADING = 4
    COMPLETED = 5
