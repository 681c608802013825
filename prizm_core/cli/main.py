"""The `prizm` command: run the mesh, inspect it, and run jobs through it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import argcomplete
from argcomplete.shell_integration import shellcode

from prizm_core import __version__
from prizm_core.cli.convert import add_convert_command
from prizm_core.cli.explain import UsageError, explain
from prizm_core.cli.flags import router_address_flag
from prizm_core.cli.listing import add_listing_commands
from prizm_core.cli.probe import add_probe_command
from prizm_core.cli.provider import add_provider_command
from prizm_core.cli.run import add_run_command
from prizm_core.cli.serve import add_serve_commands
from prizm_core.cli.service import add_service_commands
from prizm_core.client import DEFAULT_ROUTER, router_address
from prizm_core.errors import PrizmError

__all__ = ["build_parser", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_SHELLS = ("bash", "zsh", "fish")


def _completion(args: argparse.Namespace) -> int:
    print(shellcode(["prizm"], shell=args.shell))
    return 0


def _add_completion_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    completion = commands.add_parser(
        "completion",
        help="print the shell hook for tab completion",
        description='Enable with: eval "$(prizm completion bash)" (or zsh, fish), e.g. in ~/.bashrc.',
    )
    completion.add_argument("shell", choices=_SHELLS, help="the shell to complete in")
    completion.set_defaults(handler=_completion)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="prizm", description="One typed gRPC API in front of every media provider."
    )
    parser.add_argument("--version", action="version", version=f"prizm {__version__}")
    about = f"router address host:port (default: $PRIZM_ROUTER or {DEFAULT_ROUTER})"
    parser.add_argument("--router", type=router_address_flag, metavar="HOST:PORT", help=about)
    # The same flag after the subcommand; SUPPRESS keeps it from overwriting one given before it.
    router = argparse.ArgumentParser(add_help=False)
    router.add_argument(
        "--router", type=router_address_flag, default=argparse.SUPPRESS, metavar="HOST:PORT", help=about
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_commands(commands)
    add_listing_commands(commands, router)
    add_run_command(commands, router)
    add_convert_command(commands, router)
    add_provider_command(commands, router)
    add_service_commands(commands)
    add_probe_command(commands)
    _add_completion_command(commands)
    return parser


def _quiet_stdout() -> None:
    """Points stdout at /dev/null: the reader went away, and Python's last flush must not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _handle(args: argparse.Namespace) -> int:
    router = router_address(args.router)
    try:
        status: int = args.handler(args)
    except PrizmError as exc:
        print("\n".join(explain(exc, router)), file=sys.stderr)
        return EXIT_FAILED
    except UsageError as exc:
        print(f"prizm {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_FAILED
    except OSError as exc:
        print(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return EXIT_FAILED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `prizm` command and returns its exit status."""
    parser = build_parser()
    argcomplete.autocomplete(parser)
    try:
        args = parser.parse_args(argv)
        return _handle(args)
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
