"""`prizm providers` and `prizm models`: the mesh as tables (or JSON)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import json_format
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from rich import box
from rich.console import Console
from rich.table import Table

from prizm_core.cli.flags import capability_name, complete_capabilities, did_you_mean
from prizm_core.cli.jsonview import enum_label, message_json, print_json
from prizm_core.client import PrizmClient
from prizm_core.errors import PrizmError, Reason

__all__ = ["add_listing_commands", "table_console"]

_PIPE_WIDTH = 240
_STATE_STYLE = {
    router_pb.ENDPOINT_STATE_SERVING: "green",
    router_pb.ENDPOINT_STATE_NOT_SERVING: "red",
    router_pb.ENDPOINT_STATE_PENDING: "yellow",
    router_pb.ENDPOINT_STATE_DRAINING: "yellow",
}


def table_console() -> Console:
    """A console for tables on stdout: the terminal's width, `$COLUMNS` when set, else wide."""
    # Piped output is read by programs and grep: never fold it, unless the caller set a width.
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=_PIPE_WIDTH if wide else None)


def _table(title: str, rows: Sequence[tuple[str, ...]], *fixed: str) -> Table:
    """A table whose `fixed` columns keep their width (names, addresses) and whose last wraps.

    Fits 80 columns: the fixed columns are narrow, and the last one wraps at its commas.
    """
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    for index, column in enumerate(fixed):
        widest = max((len(line) for row in rows for line in row[index].splitlines()), default=0)
        table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
    return table


def _label(enum: Any, value: int) -> str:
    return enum_label(enum.DESCRIPTOR, value)


def _price(model: catalog_pb.Model) -> str:
    if not model.pricing.prices:
        return "free"
    currency = model.pricing.currency
    prices = [(p.amount_per_unit, _label(catalog_pb.MediaUnit, p.unit)) for p in model.pricing.prices]
    return ", ".join(f"{amount:g} {currency}/{unit}" for amount, unit in prices)


NotStarted = list[router_pb.NotStartedProvider]


async def _fetch_providers(router: str | None) -> tuple[list[router_pb.ProviderEndpoint], NotStarted]:
    async with PrizmClient(router) as client:
        return await client.list_providers(), await client.providers_not_started()


async def _fetch_models(
    router: str | None, capability: str | None
) -> tuple[list[catalog_pb.Model], NotStarted]:
    async with PrizmClient(router) as client:
        return await client.list_models(capability), await client.providers_not_started()


def _print_not_started(console: Console, not_started: NotStarted) -> None:
    """One line naming the configured providers not started and what would start each."""
    if not_started:
        names = ", ".join(f"{p.provider} ({p.hint})" for p in not_started)
        console.print(f"not started: {names}", highlight=False, markup=False)


def _providers(args: argparse.Namespace) -> int:
    endpoints, not_started = asyncio.run(_fetch_providers(args.router))
    if args.json:
        print_json([message_json(e) for e in endpoints])
        return 0
    rows = [
        (
            e.provider.id or "?",
            e.address,
            _label(router_pb.EndpointState, e.state),
            _label(router_pb.DiscoverySource, e.source),
            str(e.in_flight),
            "\n".join(_label(media_pb.Capability, c) for c in e.provider.capabilities),
        )
        for e in endpoints
    ]
    title = f"{len(endpoints)} provider endpoint(s)"
    table = _table(title, rows, "provider", "address", "state", "source", "jobs", "capabilities")
    for e, row in zip(endpoints, rows, strict=True):
        state = f"[{_STATE_STYLE.get(e.state, 'white')}]{row[2]}[/]"
        table.add_row(*row[:2], state, *row[3:])
    console = table_console()
    console.print(table)
    # Details are sentences: below the table, where they need not squeeze into a column.
    for e in endpoints:
        if e.detail:
            # Not markup: a provider's words are shown as they are, `[redacted]` included.
            console.print(f"{e.provider.id or e.address}: {e.detail}", highlight=False, markup=False)
    _print_not_started(console, not_started)
    return 0


def _value(value: Any) -> str:
    """An option's default or bound as the user would type it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bounds(parameter: catalog_pb.Parameter) -> str:
    low = _value(parameter.minimum) if parameter.HasField("minimum") else ""
    high = _value(parameter.maximum) if parameter.HasField("maximum") else ""
    if parameter.choices:
        return " | ".join(parameter.choices)
    if parameter.max_length:
        return f"≤ {parameter.max_length} chars"
    return f"{low}…{high}" if low or high else ""


def _model_detail(model: catalog_pb.Model) -> None:
    console = table_console()
    console.print(f"[bold]{model.provider_id}/{model.id}[/] · {model.display_name}")
    if model.description:
        console.print(model.description)
    capabilities = ", ".join(_label(media_pb.Capability, c) for c in model.capabilities)
    console.print(f"capabilities: {capabilities} · price: {_price(model)}")
    inputs = ", ".join(model.input_mime_types) or "any"
    console.print(f"input: {inputs} · output: {model.output_mime_type or 'any'}")
    rows = []
    for p in model.parameters:
        default = _value(json_format.MessageToDict(p.default_value)) if p.HasField("default_value") else ""
        kind = _label(catalog_pb.ParameterType, p.type)
        rows.append((p.name, kind, "(required)" if p.required else default, _bounds(p), p.description))
    title = f"{len(model.parameters)} option(s)"
    table = _table(title, rows, "option", "type", "default")
    table.add_column("bounds / choices")
    table.add_column("description")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _one_model(models: list[catalog_pb.Model], name: str) -> catalog_pb.Model:
    """The model named `name` (`id` or `provider/id`), or NOT_FOUND with the nearest names."""
    found = [m for m in models if name in (m.id, f"{m.provider_id}/{m.id}")]
    if found:
        return found[0]
    hint = did_you_mean(name.rpartition("/")[2], sorted({m.id for m in models})) or "; see `prizm models`"
    raise PrizmError(grpc.StatusCode.NOT_FOUND, Reason.MODEL_NOT_FOUND, f"no model {name!r} here{hint}")


def _models(args: argparse.Namespace) -> int:
    capability = capability_name(args.capability) if args.capability else None
    models, not_started = asyncio.run(_fetch_models(args.router, capability))
    if args.model:
        models = [_one_model(models, args.model)]
    if args.json:
        print_json([message_json(m) for m in models])
        return 0
    if args.model:
        _model_detail(models[0])
        return 0
    rows = [
        (
            m.provider_id,
            m.id,
            "\n".join(_label(media_pb.Capability, c) for c in m.capabilities),
            _price(m),
            ", ".join(p.name for p in m.parameters) or "-",
        )
        for m in models
    ]
    table = _table(f"{len(models)} model(s)", rows, "provider", "model", "capabilities", "price")
    table.add_column("options", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = table_console()
    console.print(table)
    _print_not_started(console, not_started)
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

    models = commands.add_parser(
        "models",
        parents=[router],
        help="list the mesh's models, or one model's options",
        description="Without MODEL: every model. With MODEL: its options (type, default, bounds, choices).",
    )
    models.add_argument("model", nargs="?", help="a model id, or provider/id, to show its options")
    complete_capabilities(
        models.add_argument("--capability", help="only models with this capability, e.g. text-to-audio")
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(handler=_models)
