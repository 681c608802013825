"""The `prizm` command: run the mesh, inspect it, and run jobs through it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc

from prizm_core import __version__
from prizm_core.cli.convert import add_convert_command
from prizm_core.cli.listing import add_listing_commands
from prizm_core.cli.run import add_run_command
from prizm_core.cli.serve import add_serve_commands
from prizm_core.client import DEFAULT_ROUTER
from prizm_core.errors import PrizmError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="prizm", description="One typed gRPC API in front of every media provider."
    )
    parser.add_argument("--version", action="version", version=f"prizm {__version__}")
    router = argparse.ArgumentParser(add_help=False)
    router.add_argument(
        "--router",
        help=f"router address host:port (default: $PRIZM_ROUTER or {DEFAULT_ROUTER})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_commands(commands)
    add_listing_commands(commands, router)
    add_run_command(commands, router)
    add_convert_command(commands, router)
    return parser


def _explain(error: PrizmError, router: str | None) -> str:
    lines = [f"error: {error.code.name} {error.reason}: {error.message}"]
    lines += [f"  {name}: {problem}" for name, problem in error.field_violations]
    if error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "UNAVAILABLE":
        lines.append(f"  is a router running at {router or DEFAULT_ROUTER}? start one with `prizm up`")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `prizm` command and returns its exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except PrizmError as exc:
        print(_explain(exc, getattr(args, "router", None)), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
