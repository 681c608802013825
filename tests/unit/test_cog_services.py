"""The Cog models of `services/`: the schema each ships is what Cog makes of its predictor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(path.parent for path in ROOT.glob("services/*/predict.py"))


def test_piper_is_a_cog_model() -> None:
    assert ROOT / "services" / "piper" in MODELS


@pytest.mark.parametrize("folder", MODELS, ids=lambda folder: folder.name)
def test_the_shipped_schema_is_what_cog_makes_of_the_predictor(folder: Path) -> None:
    # Cog serves /openapi.json, and checks inputs, only from this file: a stale one misleads both.
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cog_schema.py"), str(folder), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_piper_takes_text_and_bounded_options() -> None:
    schema = json.loads((ROOT / "services" / "piper" / ".cog" / "openapi_schema.json").read_text())
    inputs = schema["components"]["schemas"]["Input"]
    assert inputs["required"] == ["text"]
    bounds = {
        name: (p.get("minimum"), p.get("maximum"), p.get("default"))
        for name, p in inputs["properties"].items()
    }
    assert bounds == {
        "text": (None, None, None),
        "speed": (0.5, 2.0, 1.0),
        "volume": (0.1, 1.0, 1.0),
        "sentence_silence": (0.0, 2.0, 0.2),
    }
    assert schema["components"]["schemas"]["Output"] == {"title": "Output", "type": "string", "format": "uri"}
