"""What the contract suite needs to exercise one model of one provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prizm.v1 import media_pb2 as media_pb

from prizm_core.options import OptionValue

__all__ = ["Case"]


def _png() -> media_pb.Asset:
    return media_pb.Asset(kind=media_pb.MEDIA_KIND_IMAGE, mime_type="image/png", data=b"\x89PNG")


@dataclass(frozen=True)
class Case:
    """How to exercise one model: a valid input, a long one to cancel, and a check of the output.

    Attributes:
        provider: The provider's entry-point name (its session fixture has the same name).
        capability: What to ask for.
        sample: A valid input.
        long_input: An input whose job runs long enough to cancel half way.
        check: Asserts on the content of the output of `sample` (decode it, measure it).
        model: The model id; the provider's default for the capability when empty.
        options: Options for the `sample` run.
        long_options: Options for the `long_input` run.
        wrong_kind: An input of a kind the model refuses.
    """

    provider: str
    capability: media_pb.Capability.ValueType
    sample: Callable[[], media_pb.Asset]
    long_input: Callable[[], media_pb.Asset]
    check: Callable[[bytes], None]
    model: str = ""
    options: Mapping[str, OptionValue] | None = None
    long_options: Mapping[str, OptionValue] | None = None
    wrong_kind: Callable[[], media_pb.Asset] = _png
