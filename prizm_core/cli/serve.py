"""`prizm up`, `prizm router` and `prizm serve-provider`: the commands that run servers."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, cast

import uvloop

from prizm_core.config import (
    ConfigError,
    RouterConfig,
    default_config_path,
    load_config,
    parse_address,
)
from prizm_core.logs import configure_logging
from prizm_core.router import run_router
from prizm_core.router.sidecars import EXIT_UNAVAILABLE_PROVIDER
from prizm_core.serving import stop_signal

__all__ = ["add_serve_commands"]

PROVIDER_GROUP = "prizm.providers"


class ProviderEntryPoint(Protocol):
    """What an entry point of group `prizm.providers` loads: a provider class that can serve itself."""

    def main(self, argv: Sequence[str]) -> int:
        """Runs the provider as its own gRPC server."""
        ...


async def _serve_router(config: RouterConfig) -> None:
    await run_router(config, stop_signal())


def _run_router(config_path: Path | None, listen: str | None, log_level: str) -> int:
    configure_logging(log_level)
    try:
        config = load_config(config_path)
        if listen:
            parse_address(listen)
            config = dataclasses.replace(config, listen=listen)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve_router(config))
    return 0


def _up(args: argparse.Namespace) -> int:
    return _run_router(args.config or default_config_path(), args.listen, args.log_level)


def _router(args: argparse.Namespace) -> int:
    return _run_router(args.config, args.listen, args.log_level)


def provider_names() -> list[str]:
    """Names of the installed providers."""
    return sorted(ep.name for ep in entry_points(group=PROVIDER_GROUP))


def _serve_provider(args: argparse.Namespace) -> int:
    found = [ep for ep in entry_points(group=PROVIDER_GROUP) if ep.name == args.name]
    if not found:
        known = ", ".join(provider_names()) or "none"
        print(f"error: no provider named {args.name!r}; installed: {known}", file=sys.stderr)
        return EXIT_UNAVAILABLE_PROVIDER
    try:
        provider = cast("ProviderEntryPoint", found[0].load())
    except ImportError as exc:
        print(
            f"error: provider {args.name!r} cannot load ({exc}); "
            f"install it with: pip install 'prizm[{args.name}]'",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE_PROVIDER
    return provider.main(args.provider_args)


def add_serve_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `up`, `router` and `serve-provider` to the CLI."""
    up = commands.add_parser("up", help="run the router and the local providers on loopback")
    up.add_argument("--config", type=Path, help="router config (default: the embedded default)")
    up.add_argument("--listen", help="host:port to serve on (default from the config: 127.0.0.1:50051)")
    up.add_argument("--log-level", default="INFO")
    up.set_defaults(handler=_up)

    router = commands.add_parser(
        "router", help="run the router alone (providers from --config or registration)"
    )
    router.add_argument("--config", type=Path, help="router config file")
    router.add_argument("--listen", help="host:port to serve on (default 127.0.0.1:50051)")
    router.add_argument("--log-level", default="INFO")
    router.set_defaults(handler=_router)

    serve = commands.add_parser(
        "serve-provider",
        help="run one provider as its own gRPC server",
        description="Options after NAME go to the provider: --port N, --host H, --grace S, --no-reflection.",
    )
    serve.add_argument("name", help=f"provider name (installed: {', '.join(provider_names()) or 'none'})")
    serve.add_argument("provider_args", nargs=argparse.REMAINDER, help="options for the provider")
    serve.set_defaults(handler=_serve_provider)
