"""Standard input as a job's input: its media type told from its first bytes."""

from __future__ import annotations

import io
import wave

import pytest
from prizm.v1 import media_pb2 as media_pb

from prizm_core.cli.explain import UsageError
from prizm_core.cli.inputs import sniff_mime

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 1600)
    return buffer.getvalue()


def test_wav_and_png_are_told_from_their_bytes() -> None:
    assert sniff_mime(_wav(), media_pb.MEDIA_KIND_AUDIO) == "audio/wav"
    assert sniff_mime(PNG, media_pb.MEDIA_KIND_IMAGE) == "image/png"


def test_a_container_of_either_kind_is_taken_as_the_kind_the_job_wants() -> None:
    # An ISO BMFF header (ftyp isom): puremagic's first guess is video/mp4.
    mp4 = bytes.fromhex("0000001c667479706973 6f6d0000020069736f6d69736f326d703431".replace(" ", ""))
    assert sniff_mime(mp4 + bytes(64), media_pb.MEDIA_KIND_AUDIO) == "audio/mp4"
    assert sniff_mime(mp4 + bytes(64), media_pb.MEDIA_KIND_VIDEO) == "video/mp4"


def test_bytes_of_no_known_type_are_refused() -> None:
    with pytest.raises(UsageError, match="cannot tell the media type of stdin"):
        sniff_mime(b"\x01\x02\x03 plain nonsense", media_pb.MEDIA_KIND_AUDIO)
