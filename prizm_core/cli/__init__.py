"""The `prizm` command line."""

from prizm_core.cli.main import main

__all__ = ["main"]
