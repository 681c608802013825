"""Standard options in one line: the vocabulary's type and meaning, the provider's bounds and default."""

from __future__ import annotations

from prizm_core.option_vocabulary import STANDARD_OPTIONS, StandardOption, standard_option
from provider_servers.sdk.models import OptionValue, Param

__all__ = ["STANDARD_OPTIONS", "StandardOption", "standard_param"]

_NUMBERS = ("integer", "number")


def standard_param(
    name: str,
    *,
    note: str = "",
    default: OptionValue | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    max_length: int = 0,
    required: bool = False,
) -> Param:
    """A model parameter for the standard option `name` (see `docs/options.md`).

    The type and the start of the description come from the vocabulary, so the option
    means the same here as on every other provider; the bounds, choices and default are
    this model's. Example: `standard_param("speed", default=1.0, minimum=0.5, maximum=2.0)`.

    Args:
        name: A standard option's name, e.g. "speed", "format", "width".
        note: How this model maps it, appended to the standard meaning
            (e.g. "1 is 175 words per minute.").
        default: Value used when the caller gives none.
        minimum: Inclusive lower bound, for integer and number options.
        maximum: Inclusive upper bound, for integer and number options.
        choices: The only values a string option may take.
        max_length: Longest string accepted; 0 for no limit.
        required: Whether the caller must give a value.

    Raises:
        KeyError: `name` is not a standard option.
        ValueError: Bounds on a string option, or choices or a length on a number option.
    """
    option = standard_option(name)
    numeric = option.type in _NUMBERS
    if not numeric and (minimum is not None or maximum is not None):
        raise ValueError(f"{name} is a {option.type} option: it takes choices, not bounds")
    if numeric and (choices or max_length):
        raise ValueError(f"{name} is a {option.type} option: it takes bounds, not choices or a length")
    return Param(
        name,
        option.type,
        f"{option.meaning} {note}".strip(),
        default=default,
        minimum=minimum,
        maximum=maximum,
        choices=choices,
        required=required,
        max_length=max_length,
    )
