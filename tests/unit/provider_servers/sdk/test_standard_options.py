"""standard_param: the vocabulary's type and meaning, the provider's bounds, choices and default."""

from __future__ import annotations

import pytest

from prizm_core.errors import PrizmError
from prizm_core.option_vocabulary import standard_option
from provider_servers.sdk import Param, standard_param
from provider_servers.sdk.options import resolve_options


def test_a_standard_number_takes_the_vocabulary_type_and_meaning_and_the_provider_bounds() -> None:
    speed = standard_param("speed", note="1 is 175 words per minute.", default=1.0, minimum=0.5, maximum=2.5)
    meaning = standard_option("speed").meaning
    assert speed == Param(
        "speed",
        "number",
        f"{meaning} 1 is 175 words per minute.",
        default=1.0,
        minimum=0.5,
        maximum=2.5,
    )


def test_a_standard_string_takes_choices_and_no_note_leaves_the_meaning_alone() -> None:
    fmt = standard_param("format", default="wav", choices=("wav", "mp3"))
    assert (fmt.type, fmt.description, fmt.choices, fmt.default) == (
        "string",
        standard_option("format").meaning,
        ("wav", "mp3"),
        "wav",
    )


def test_the_param_checks_values_as_any_other() -> None:
    params = (standard_param("width", minimum=16, maximum=64), standard_param("format", choices=("png",)))
    assert resolve_options(params, {"width": 32, "format": "png"}) == {"width": 32, "format": "png"}
    with pytest.raises(PrizmError) as caught:
        resolve_options(params, {"width": 65})
    assert caught.value.field_violations == (("options.width", "must be at most 64"),)


@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("format", {"minimum": 1.0}, "takes choices, not bounds"),
        ("speed", {"choices": ("1",)}, "takes bounds, not choices"),
        ("width", {"max_length": 4}, "takes bounds, not choices or a length"),
    ],
)
def test_bounds_and_choices_must_fit_the_standard_type(
    name: str, arguments: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        standard_param(name, **arguments)  # type: ignore[arg-type]
