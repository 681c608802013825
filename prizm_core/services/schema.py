"""The manifest's JSON Schema for editors, `service.schema.json`; `python -m prizm_core.services.schema`
rewrites it (`make gen`), and with `--check` fails when it is stale (`make gen-check`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from prizm_core.services.manifest import ServiceManifest

__all__ = ["SCHEMA_PATH", "main", "schema_text"]

SCHEMA_PATH = Path(__file__).with_name("service.schema.json")


def schema_text() -> str:
    """The JSON Schema of a `prizm.service.yml`, as it is committed."""
    schema = ServiceManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Prizm service manifest (prizm.service.yml)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrites `service.schema.json`, or with --check says whether it is current (exit status 1 if not)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if service.schema.json is stale")
    text = schema_text()
    if parser.parse_args(argv).check:
        if not SCHEMA_PATH.is_file() or SCHEMA_PATH.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{SCHEMA_PATH} is stale: run python -m prizm_core.services.schema\n")
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
