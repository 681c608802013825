"""The config's JSON Schema for editors, `config.schema.json`; `python -m provider_servers.http_api.schema`
rewrites it (a test fails when it is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from provider_servers.http_api.config import HttpApiConfig

__all__ = ["SCHEMA_PATH", "main", "schema_text"]

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")


def schema_text() -> str:
    """The JSON Schema of a config file, as it is committed."""
    schema = HttpApiConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Prizm HTTP API provider config"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Rewrites `config.schema.json` from the config's models."""
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
