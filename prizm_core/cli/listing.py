"""`prizm providers` and `prizm models`: the mesh as tables (or JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from google.protobuf import json_format
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import router_service_pb2 as router_pb
from rich.console import Console
from rich.table import Table

from prizm_core.capabilities import capability_info
from prizm_core.client import PrizmClient

__all__ = ["add_listing_commands"]

_PIPE_WIDTH = 240
_STATE_STYLE = {
    router_pb.ENDPOINT_STATE_SERVING: "green",
    router_pb.ENDPOINT_STATE_NOT_SERVING: "red",
    router_pb.ENDPOINT_STATE_PENDING: "yellow",
    router_pb.ENDPOINT_STATE_DRAINING: "yellow",
}


def _console() -> Console:
    # Piped output is read by programs and grep: never fold it to a terminal's width.
    return Console() if sys.stdout.isatty() else Console(width=_PIPE_WIDTH)


def _enum_label(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).lower().replace("_", "-")


def _capabilities(values: list[int]) -> str:
    return ", ".join(capability_info(v).name for v in values)


def _price(model: catalog_pb.Model) -> str:
    if not model.pricing.prices:
        return "free"
    currency = model.pricing.currency
    units = [_enum_label(catalog_pb.MediaUnit.Name(p.unit), "MEDIA_UNIT_") for p in model.pricing.prices]
    return ", ".join(
        f"{p.amount_per_unit:g} {currency}/{unit}"
        for p, unit in zip(model.pricing.prices, units, strict=True)
    )


async def _fetch_providers(router: str | None) -> list[router_pb.ProviderEndpoint]:
    async with PrizmClient(router) as client:
        return await client.list_providers()


async def _fetch_models(router: str | None, capability: str | None) -> list[catalog_pb.Model]:
    async with PrizmClient(router) as client:
        return await client.list_models(capability)


def _providers(args: argparse.Namespace) -> int:
    endpoints = asyncio.run(_fetch_providers(args.router))
    if args.json:
        print(json.dumps([json_format.MessageToDict(e) for e in endpoints], indent=2))
        return 0
    table = Table(title=f"{len(endpoints)} provider endpoint(s)")
    for column in ("provider", "address", "state", "source", "jobs", "capabilities", "detail"):
        table.add_column(column, overflow="fold")
    for e in endpoints:
        state = _enum_label(router_pb.EndpointState.Name(e.state), "ENDPOINT_STATE_")
        table.add_row(
            e.provider.id or "?",
            e.address,
            f"[{_STATE_STYLE.get(e.state, 'white')}]{state}[/]",
            _enum_label(router_pb.DiscoverySource.Name(e.source), "DISCOVERY_SOURCE_"),
            str(e.in_flight),
            _capabilities(list(e.provider.capabilities)),
            e.detail,
        )
    _console().print(table)
    return 0


def _models(args: argparse.Namespace) -> int:
    models = asyncio.run(_fetch_models(args.router, args.capability))
    if args.json:
        print(json.dumps([json_format.MessageToDict(m) for m in models], indent=2))
        return 0
    table = Table(title=f"{len(models)} model(s)")
    for column in ("provider", "model", "capabilities", "price", "options"):
        table.add_column(column, overflow="fold")
    for m in models:
        options = ", ".join(p.name for p in m.parameters) or "-"
        table.add_row(m.provider_id, m.id, _capabilities(list(m.capabilities)), _price(m), options)
    _console().print(table)
    return 0


def add_listing_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `providers` and `models` to the CLI."""
    providers = commands.add_parser(
        "providers", parents=[router], help="list provider endpoints and their health"
    )
    providers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    providers.set_defaults(handler=_providers)

    models = commands.add_parser("models", parents=[router], help="list the mesh's models")
    models.add_argument("--capability", help="only models with this capability, e.g. text-to-audio")
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(handler=_models)
