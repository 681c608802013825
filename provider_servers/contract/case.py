"""What a provider package declares for the contract suite: how to exercise each of its models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from provider_servers.sdk import Capability, InputAsset, MediaKind, OptionValue

__all__ = ["Case", "png_asset", "text_input"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def text_input(text: str) -> InputAsset:
    """A UTF-8 text input."""
    return InputAsset.inline(MediaKind.TEXT, "text/plain; charset=utf-8", text.encode("utf-8"))


def png_asset() -> InputAsset:
    """A (truncated) PNG picture: the default wrong-kind input of every case that takes no image."""
    return InputAsset.inline(MediaKind.IMAGE, "image/png", _PNG_SIGNATURE)


@dataclass(frozen=True)
class Case:
    """How to exercise one model: a valid input and a check of its output, a long input, a wrong one.

    A provider package returns its cases from the function its `prizm.contract` entry point names
    (the same name as its `prizm.providers` entry point); the suite runs every check on each case.

    Attributes:
        capability: What to ask for.
        sample: Makes a valid input.
        check: Asserts on the content of the output of `sample` (decode it, measure it); raises
            `AssertionError` when it is wrong.
        long_input: Makes an input whose job runs long enough (seconds) to cancel half way; it must
            report a progress fraction above 0 and below 0.5 early on.
        model: The model id; the provider's default for the capability when empty.
        options: Options for the `sample` run.
        long_options: Options for the `long_input` run.
        wrong_kind: Makes an input of a media kind the model refuses.
    """

    capability: Capability
    sample: Callable[[], InputAsset]
    check: Callable[[bytes], None]
    long_input: Callable[[], InputAsset]
    model: str = ""
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    long_options: Mapping[str, OptionValue] = field(default_factory=dict)
    wrong_kind: Callable[[], InputAsset] = png_asset
