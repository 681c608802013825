"""The `prizm` command: run the mesh, inspect it, and run jobs through it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import argcomplete

from prizm_core import __version__
from prizm_core.cli.tls import add_caller_tls_flags, quiet_transport_logs

__all__ = ["build_parser", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_SHELLS = ("bash", "zsh", "fish")
_DEFAULT_ROUTER = "127.0.0.1:50051"  # prizm_core.client.DEFAULT_ROUTER, without importing the client

# The commands, in the order `prizm --help` lists them: (names, module, function adding their
# parsers, whether that function takes the `--router` parent parser). A command's module is imported
# only when that command runs (or for --help and completion): `prizm health-probe` runs every few
# seconds in every container and must not load the router, the client and the config to do so.
_COMMANDS: tuple[tuple[tuple[str, ...], str, str, bool], ...] = (
    (("up", "router", "serve-provider"), "prizm_core.cli.serve", "add_serve_commands", False),
    (("providers", "models"), "prizm_core.cli.listing", "add_listing_commands", True),
    (("run",), "prizm_core.cli.run", "add_run_command", True),
    (("convert",), "prizm_core.cli.convert", "add_convert_command", True),
    (("provider",), "prizm_core.cli.provider", "add_provider_command", True),
    (("service",), "prizm_core.cli.service", "add_service_commands", False),
    (("top",), "prizm_core.cli.top", "add_top_command", True),
    (("health-probe",), "prizm_core.cli.probe", "add_probe_command", False),
    (("auth",), "prizm_core.cli.auth", "add_auth_command", False),
    (("certs",), "prizm_core.cli.certs", "add_certs_command", False),
)


def _router_flag(text: str) -> str:
    from prizm_core.cli.flags import router_address_flag  # noqa: PLC0415 - see _COMMANDS

    return router_address_flag(text)


def _completion(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode  # noqa: PLC0415 - see _COMMANDS

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


def _requested(argv: Sequence[str]) -> str | None:
    """The command named in `argv`, when no --help or completion needs them all."""
    if "_ARGCOMPLETE" in os.environ:
        return None
    words = iter(argv)
    for word in words:
        if word == "--router":
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif word in ("-h", "--help"):
            return None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: of the command `argv` names, else of every command."""
    parser = argparse.ArgumentParser(
        prog="prizm", description="One typed gRPC API in front of every media provider."
    )
    parser.add_argument("--version", action="version", version=f"prizm {__version__}")
    about = f"router address host:port (default: $PRIZM_ROUTER or {_DEFAULT_ROUTER})"
    parser.add_argument("--router", type=_router_flag, metavar="HOST:PORT", help=about)
    # The same flag after the subcommand; SUPPRESS keeps it from overwriting one given before it.
    router = argparse.ArgumentParser(add_help=False)
    router.add_argument(
        "--router", type=_router_flag, default=argparse.SUPPRESS, metavar="HOST:PORT", help=about
    )
    add_caller_tls_flags(router)  # --ca, --cert, --key: how the router is dialled
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _requested(sys.argv[1:] if argv is None else argv)
    known = any(wanted in names for names, *_ in _COMMANDS)
    for names, module, function, takes_router in _COMMANDS:
        if known and wanted not in names:
            continue
        add = getattr(importlib.import_module(module), function)
        add(commands, router) if takes_router else add(commands)
    _add_completion_command(commands)
    return parser


def _quiet_stdout() -> None:
    """Points stdout at /dev/null: the reader went away, and Python's last flush must not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _handle(args: argparse.Namespace) -> int:
    # Imported here, not on top, for the commands that never load them (see _COMMANDS).
    from prizm_core.cli.explain import UsageError, explain  # noqa: PLC0415
    from prizm_core.errors import PrizmError  # noqa: PLC0415

    try:
        status: int = args.handler(args)
    except PrizmError as exc:
        from prizm_core.client import router_address  # noqa: PLC0415

        print("\n".join(explain(exc, router_address(args.router))), file=sys.stderr)
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
    if argv is None:  # this process is the command: gRPC is not loaded yet
        quiet_transport_logs(sys.argv[1:])
    parser = build_parser(argv)
    argcomplete.autocomplete(parser)
    try:
        args = parser.parse_args(argv)
        return _handle(args)
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
