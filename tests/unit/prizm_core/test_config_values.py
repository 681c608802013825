"""The config building blocks: a section read by its pydantic model names the key path on error."""

from __future__ import annotations

import pydantic
import pytest

from prizm_core.config_values import ConfigError, section


class Example(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    port: int = pydantic.Field(default=0, ge=0, le=65_535)
    host: str = "127.0.0.1"


def test_an_absent_section_has_its_defaults() -> None:
    assert section(Example, {}, "example", "router.yaml") == Example()


def test_a_section_is_read_by_its_model() -> None:
    assert section(Example, {"example": {"port": 9100}}, "example", "r.yaml").port == 9100


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ({"port": 70_000}, "r.yaml: example.port: Input should be less than or equal to 65535"),
        ({"prot": 1}, "r.yaml: example.prot: Extra inputs are not permitted"),
        ("nine", "r.yaml: example: Input should be a valid dictionary"),
    ],
)
def test_each_problem_names_the_key_path(value: object, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        section(Example, {"example": value}, "example", "r.yaml")
    assert said in str(raised.value)
