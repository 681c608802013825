"""`prizm convert`: a file as another kind of media, through one or two jobs of the mesh."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from rich.console import Console

from prizm_core.assets import describe_file
from prizm_core.cli.inputs import media_input
from prizm_core.cli.outputs import check_default_format, output_sink
from prizm_core.cli.progress import ProgressBar
from prizm_core.cli.run import add_output_flags, check_output_flags, report
from prizm_core.client import Conversion, PrizmClient
from prizm_core.client.conversion import KIND_NAMES, ConversionStep, kind_by_name, plan_conversion
from prizm_core.errors import PrizmError, Reason

__all__ = ["add_convert_command"]


async def _plan(
    client: PrizmClient, source: media_pb.Asset, target: media_pb.MediaKind.ValueType, seconds: float
) -> tuple[list[ConversionStep], list[catalog_pb.Model]]:
    """The conversion's steps and the mesh's models, waiting up to `seconds` for a way there."""
    end = time.monotonic() + seconds
    while True:
        try:
            models = await client.list_models()
            return plan_conversion(models, source.kind, target, source.mime_type), models
        except PrizmError as exc:
            waiting = exc.reason in (Reason.NO_CONVERSION_PATH, "UNAVAILABLE")
            if not waiting or time.monotonic() > end:
                raise
        await asyncio.sleep(0.2)


async def _convert(args: argparse.Namespace, source: Path | media_pb.Asset) -> Conversion:
    target = kind_by_name(args.to)
    described = source if isinstance(source, media_pb.Asset) else describe_file(source)
    async with PrizmClient(args.router) as client:
        steps, models = await _plan(client, described, target, args.wait)
        if steps:
            last = steps[-1]
            chosen = [m for m in models if (m.provider_id, m.id) == (last.provider_id, last.model_id)]
            check_default_format(args.output, chosen)
        text_output = target == media_pb.MEDIA_KIND_TEXT
        with ProgressBar(Console(stderr=True), [step.capability.name for step in steps]) as bar:
            return await client.convert(
                source,
                target,
                timeout=args.timeout,
                on_event=bar,
                sink=output_sink(args.output, "convert", text_output),
            )


def _run(args: argparse.Namespace) -> int:
    check_output_flags(args)
    source = media_input(args.input, media_pb.MEDIA_KIND_UNSPECIFIED)
    conversion = asyncio.run(_convert(args, source))
    report(conversion.result, args, conversion.capabilities)
    return 0


def add_convert_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `convert` to the CLI."""
    convert = commands.add_parser(
        "convert",
        parents=[router],
        help="turn a file into another kind of media (one or two jobs)",
        description=(
            "Finds the shortest way through the mesh's capabilities, e.g. video -> audio -> text. "
            "INPUT is a file path, or - for stdin; -o FILE as for `prizm run`."
        ),
    )
    convert.add_argument("input", help="a file path, or - for stdin")
    convert.add_argument("--to", required=True, choices=sorted(KIND_NAMES), help="the kind wanted")
    add_output_flags(convert, "the mesh to offer a way there")
    convert.set_defaults(handler=_run)
