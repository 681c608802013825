"""`prizm provider add|list|remove`: providers added at run time, each in its own environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from prizm.v1 import router_service_pb2 as router_pb
from rich import box
from rich.table import Table

from prizm_core.cli.explain import UsageError
from prizm_core.cli.jsonview import print_json
from prizm_core.cli.listing import table_console
from prizm_core.client import PrizmClient, router_address
from prizm_core.errors import PrizmError
from prizm_core.installed import Installed, InstallError, Store, prizm_home
from prizm_core.installed.install import add_provider, remove_provider
from prizm_core.installed.running import start_registered
from prizm_core.installed.specs import SpecError

__all__ = ["add_provider_command"]

EXIT_FAILED = 1
# A provider registers once it has warmed up (loaded its models): seconds, or a minute for a big one.
_REGISTER_TIMEOUT_S = 120.0
_PROBE_TIMEOUT_S = 2.0
_POLL_S = 0.2


def _store() -> Store:
    return Store(prizm_home(os.environ))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _add(args: argparse.Namespace) -> int:
    try:
        entry = add_provider(
            _store(),
            args.spec,
            cwd=Path.cwd(),
            allow_unpinned=args.allow_unpinned,
            offline=args.offline,
            progress=_progress,
        )
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"added {entry.kind} {entry.name} {entry.version}: {', '.join(entry.provides)}")
    router = router_address(args.router)
    if not asyncio.run(_serving_router(router)):
        print(f"no router at {router}: `prizm up` serves it from now on")
        return 0
    try:
        started = start_registered(entry, router, _store().run_folder(entry.name))
        asyncio.run(_wait_registered(router, set(started.values())))
    except (InstallError, PrizmError, TimeoutError) as exc:
        print(f"error: not started now: {exc or 'timed out'}; `prizm up` serves it", file=sys.stderr)
        return EXIT_FAILED
    for name, address in started.items():
        print(f"serving {name} on {address}, registered with the router at {router}")
    return 0


async def _serving_router(router: str) -> bool:
    """Whether a router answers at `router`."""
    async with PrizmClient(router) as client:
        try:
            await client.list_providers(timeout=_PROBE_TIMEOUT_S)
        except PrizmError:
            return False
    return True


async def _wait_registered(router: str, addresses: set[str]) -> None:
    """Waits until the router routes to each of `addresses`."""
    deadline = time.monotonic() + _REGISTER_TIMEOUT_S
    async with PrizmClient(router) as client:
        while time.monotonic() < deadline:
            endpoints = await client.list_providers()
            serving = {e.address for e in endpoints if e.state == router_pb.ENDPOINT_STATE_SERVING}
            if addresses <= serving:
                return
            await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"not registered with {router} within {_REGISTER_TIMEOUT_S:g} s")


def _pin(entry: Installed) -> str:
    if entry.origin.kind == "git":
        return f"{entry.origin.ref or '(unpinned)'} {entry.origin.commit[:12]}"
    return entry.version


def _list(args: argparse.Namespace) -> int:
    try:
        entries = _store().entries()
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return 0
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("NAME", "KIND", "PROVIDES", "SOURCE", "PIN", "INSTALLED IN"):
        table.add_column(column, no_wrap=column != "SOURCE")
    for entry in entries:
        where = entry.venv if entry.venv is not None else entry.folder
        source = f"{entry.origin.kind}: {entry.origin.location}"
        table.add_row(entry.name, entry.kind, ", ".join(entry.provides), source, _pin(entry), str(where))
    if entries:
        table_console().print(table)
    else:
        print("no providers added; add one with: prizm provider add SPEC")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        entry = remove_provider(_store(), args.name)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed {entry.kind} {entry.name}: {', '.join(entry.provides)}")
    print("`prizm up` no longer serves it (one running now keeps its sidecar until it restarts)")
    return 0


def add_provider_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `provider add|list|remove` to the CLI (`router`: the parent parser of `--router`)."""
    provider = commands.add_parser(
        "provider",
        help="add, list or remove providers installed at run time",
        description="Providers added here run from their own virtual environments under "
        "$PRIZM_HOME (default ~/.local/share/prizm); `prizm up` serves them.",
    )
    actions = provider.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        parents=[router],
        help="install a provider package or a container service",
        description="SPEC: a pip requirement (prizm-sox-effects==0.1.0), a folder (./my-provider), "
        "or a git repository at a tag or full commit (git+https://host/o/r@v1.0, ../repo@v1.0). "
        "A folder or repository holding only a prizm.service.yml is added as a container service. "
        "A router running at --router serves it at once.",
    )
    add.add_argument("spec", help="what to install")
    add.add_argument(
        "--allow-unpinned", action="store_true", help="accept a git branch or no ref (they move)"
    )
    add.add_argument(
        "--offline",
        action="store_true",
        help="no package index: dependencies and build backend from Prizm's environment",
    )
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="the added providers")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_list)
    remove = actions.add_parser(
        "remove", help="uninstall an added provider (a process started for a running router stops)"
    )
    remove.add_argument("name", help="its name, or a provider name it provides")
    remove.set_defaults(handler=_remove)
