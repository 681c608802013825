"""`prizm up`, `prizm router` and `prizm serve-provider`: the commands that run servers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
from collections.abc import Coroutine
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import uvloop

from prizm_core.cli.flags import positive_count, router_address_flag
from prizm_core.cli.tls import add_router_tls_flags, with_tls_flags
from prizm_core.config import (
    ConfigError,
    RouterConfig,
    default_config_path,
    load_config,
    parse_address,
)
from prizm_core.installed import InstallError, Store, prizm_home, with_installed
from prizm_core.installed.running import stop_replaced
from prizm_core.logs import configure_logging
from prizm_core.router import run_router
from prizm_core.router.workers import run_workers
from prizm_core.security.auth import check_exposure
from prizm_core.serving import EXIT_UNAVAILABLE, announce_unavailable, stop_signal
from prizm_core.telemetry.exposition import add_metrics_flags, metrics_from_flags
from prizm_core.telemetry.json_logs import LOG_FORMATS
from provider_servers.sdk import Provider, run_provider

__all__ = ["add_serve_commands"]

PROVIDER_GROUP = "prizm.providers"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _print_ready(line: str) -> None:
    # The one line a person (or a script) waits for: every sidecar serving, or skipped and why.
    print(line, flush=True)


async def _serve_router(config: RouterConfig) -> None:
    await run_router(config, stop_signal(), on_ready=_print_ready)


def _run_router(args: argparse.Namespace, config_path: Path | None, *, installed: bool = False) -> int:
    configure_logging(args.log_level, log_format=args.log_format)
    try:
        config = load_config(config_path)
        if args.listen:
            parse_address(args.listen)
            config = dataclasses.replace(config, listen=args.listen)
        if installed:
            config = _with_added(config)
        config = dataclasses.replace(config, metrics=metrics_from_flags(config.metrics, args))
        config = with_tls_flags(config, args)
        if args.insecure:
            config = dataclasses.replace(config, auth=config.auth.model_copy(update={"insecure": True}))
        check_exposure(parse_address(config.listen)[0], config.auth)  # refused here: one line, exit 2
        if getattr(args, "reuse_port", False):
            config = dataclasses.replace(config, reuse_port=True)
        if getattr(args, "workers", 1) > 1:
            worker_args = ["--loop", args.loop, "--log-level", args.log_level, "--reuse-port"]
            worker_args += ["--log-format", args.log_format]
            worker_args += ["--insecure"] if args.insecure else []
            if config_path is not None:
                worker_args += ["--config", str(config_path)]
            return _run_loop(args.loop, run_workers(config, worker_args, args.workers))
    except (ConfigError, InstallError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _run_loop(args.loop, _serve_router(config))
    return 0


def _with_added(config: RouterConfig) -> RouterConfig:
    """`config` plus the providers added with `prizm provider add`, as sidecars.

    Those started for a router that listened here before are stopped: they would register with this
    one too, and serve beside its sidecars.
    """
    store = Store(prizm_home(os.environ))
    entries = store.entries()
    stop_replaced([store.run_folder(entry.name) for entry in entries], config.listen)
    return with_installed(config, entries)


def _run_loop(loop: str, main: Coroutine[Any, Any, Any]) -> int:
    """Runs `main` on uvloop (the default) or the standard asyncio loop."""
    runner = uvloop.run if loop == "uvloop" else asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        result = runner(main)
        return result if isinstance(result, int) else 0
    return 0


def _up(args: argparse.Namespace) -> int:
    return _run_router(args, args.config or default_config_path(), installed=True)


def _router(args: argparse.Namespace) -> int:
    return _run_router(args, args.config)


def provider_names() -> list[str]:
    """Names of the installed providers."""
    return sorted(ep.name for ep in entry_points(group=PROVIDER_GROUP))


def _serve_provider(args: argparse.Namespace) -> int:
    found = [ep for ep in entry_points(group=PROVIDER_GROUP) if ep.name == args.name]
    if not found:
        known = ", ".join(provider_names()) or "none"
        print(f"error: no provider named {args.name!r}; installed: {known}", file=sys.stderr)
        announce_unavailable(f"no provider {args.name!r} installed")
        return EXIT_UNAVAILABLE
    try:
        provider = cast("type[Provider]", found[0].load())
    except ImportError as exc:
        print(
            f"error: provider {args.name!r} cannot load ({exc}); "
            f"install it with: pip install 'prizm[{args.name}]'",
            file=sys.stderr,
        )
        announce_unavailable(f"pip install 'prizm[{args.name}]'")
        return EXIT_UNAVAILABLE
    return run_provider(provider, args.provider_args)


def _add_server_flags(command: argparse.ArgumentParser, listen: str) -> None:
    """`--listen`, `--log-level` and `--loop`, checked as they are parsed."""
    command.add_argument("--listen", type=router_address_flag, metavar="HOST:PORT", help=listen)
    command.add_argument(
        "--log-level", type=str.upper, choices=_LOG_LEVELS, default="INFO", help="default INFO"
    )
    command.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text", help="text (default) or json lines"
    )
    command.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="event loop (default uvloop)"
    )
    add_metrics_flags(command)
    command.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address with auth off: only behind something that checks callers",
    )


def add_serve_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `up`, `router` and `serve-provider` to the CLI."""
    up = commands.add_parser(
        "up", help="run the router with the local providers, and remote ones whose key is set"
    )
    up.add_argument("--config", type=Path, help="router config (default: the embedded default)")
    _add_server_flags(up, "host:port to serve on (default from the config: 127.0.0.1:50051)")
    add_router_tls_flags(up, up=True)
    up.set_defaults(handler=_up)

    router = commands.add_parser(
        "router", help="run the router alone (providers from --config or registration)"
    )
    router.add_argument("--config", type=Path, help="router config file")
    _add_server_flags(router, "host:port to serve on (default 127.0.0.1:50051)")
    add_router_tls_flags(router)
    router.add_argument(
        "--workers",
        type=positive_count,
        default=1,
        help="router processes sharing the port (static or DNS providers only)",
    )
    # Set by --workers for its routers: they share one port on purpose. Any other router refuses
    # a port in use.
    router.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    router.set_defaults(handler=_router)

    serve = commands.add_parser(
        "serve-provider",
        help="run one provider as its own gRPC server",
        description="Options after NAME go to the provider: --port N, --host H, --grace S, --no-reflection.",
    )
    serve.add_argument("name", help=f"provider name (installed: {', '.join(provider_names()) or 'none'})")
    serve.add_argument("provider_args", nargs=argparse.REMAINDER, help="options for the provider")
    serve.set_defaults(handler=_serve_provider)
