"""The README's examples stay true: its config blocks parse, its Python block compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from prizm_core.config import parse_config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("block", re.findall(r"```yaml\n(.*?)```", README, re.S))
def test_every_config_block_in_the_readme_is_a_valid_router_config(block: str) -> None:
    config = parse_config(yaml.safe_load(block), "README")
    assert config.listen == "127.0.0.1:50051"


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", README, re.S))
def test_every_python_block_in_the_readme_compiles(block: str) -> None:
    compile(block, "README.md", "exec")
