"""Writes a Cog predictor's OpenAPI schema to `.cog/openapi_schema.json`, as `cog build` bakes it in.

A Cog server serves `/openapi.json` (and validates inputs against it) only from that file. Cog's own
introspection (`python -m cog.command.openapi_schema`, in cog 0.17.2, which still ships it) makes it
without starting the model, in a cached virtual environment of its own: installing that cog into the
project's environment would replace the newer cog server there.

Usage: `python scripts/cog_schema.py PREDICTOR_DIR [--predictor predict.py:Predictor] [--check]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

__all__ = ["SCHEMA_FILE", "main", "schema_of", "tool_python"]

COG_VERSION = "0.17.2"
SCHEMA_FILE = Path(".cog") / "openapi_schema.json"
DEFAULT_PREDICTOR = "predict.py:Predictor"


def tool_python() -> Path:
    """The cached environment's interpreter, with `cog==0.17.2` installed on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "prizm" / "cog-schema-venv"
    python = folder / "bin" / "python"
    marker = folder / f"cog-{COG_VERSION}"
    if not marker.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"cog=={COG_VERSION}"], check=True)
        marker.touch()
    return python


def schema_of(predictor_dir: Path, predictor: str) -> dict[str, object]:
    """The predictor's schema as Cog's introspection makes it (the model is imported, not set up).

    Raises:
        RuntimeError: The introspection failed; its message has Cog's words.
    """
    env = {**os.environ, "COG_PREDICT_TYPE_STUB": predictor}
    done = subprocess.run(
        [str(tool_python()), "-m", "cog.command.openapi_schema"],
        cwd=predictor_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cog could not read {predictor_dir / predictor}:\n{done.stderr.strip()}")
    schema: dict[str, object] = json.loads(done.stdout)
    return schema


def _predictor(predictor_dir: Path, given: str) -> str:
    """The predictor reference: as given, else `cog.yaml`'s `predict` (cog reads it), else the default."""
    if given:
        return given
    return "" if (predictor_dir / "cog.yaml").exists() else DEFAULT_PREDICTOR


def main(argv: list[str] | None = None) -> int:
    """Writes (or with `--check`, compares) the schema; 1 when the committed one has drifted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictor_dir", type=Path, help="the folder holding the predictor")
    parser.add_argument("--predictor", default="", help="MODULE.py:CLASS; default cog.yaml's, or predict.py")
    parser.add_argument("--check", action="store_true", help="fail when the written schema differs")
    args = parser.parse_args(argv)
    folder: Path = args.predictor_dir.resolve()
    text = json.dumps(schema_of(folder, _predictor(folder, args.predictor)), indent=2) + "\n"
    target = folder / SCHEMA_FILE
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run scripts/cog_schema.py {args.predictor_dir}", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
