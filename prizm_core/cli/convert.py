"""`prizm convert`: a file as another kind of media, through one or two jobs of the mesh."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from prizm.v1 import media_pb2 as media_pb
from rich.console import Console

from prizm_core.assets import describe_file
from prizm_core.cli.run import ProgressBar, output_sink, report
from prizm_core.client import Conversion, PrizmClient
from prizm_core.client.conversion import KIND_NAMES, kind_by_name, plan_conversion
from prizm_core.errors import PrizmError

__all__ = ["add_convert_command"]


async def _wait_for_a_path(
    client: PrizmClient, source: Path, target: media_pb.MediaKind.ValueType, seconds: float
) -> None:
    """Waits until the mesh (router and providers) can do the conversion, or `seconds` pass."""
    end = time.monotonic() + seconds
    kind = describe_file(source).kind
    while True:
        try:
            plan_conversion(await client.list_models(), kind, target)
            return
        except PrizmError as exc:
            if exc.reason not in ("NO_CONVERSION_PATH", "UNAVAILABLE") or time.monotonic() > end:
                raise
        await asyncio.sleep(0.2)


async def _convert(args: argparse.Namespace) -> Conversion:
    target = kind_by_name(args.to)
    async with PrizmClient(args.router) as client:
        if args.wait:
            await _wait_for_a_path(client, Path(args.input), target, args.wait)
        bar = ProgressBar(Console(stderr=True))
        with bar.progress:
            return await client.convert(
                Path(args.input),
                target,
                timeout=args.timeout,
                on_event=bar,
                sink=output_sink(args.output, "convert", target == media_pb.MEDIA_KIND_TEXT),
            )


def _run(args: argparse.Namespace) -> int:
    if not Path(args.input).is_file():
        raise FileNotFoundError(f"no such file: {args.input}")
    conversion = asyncio.run(_convert(args))
    Console(stderr=True).print(f"via {' → '.join(conversion.capabilities)}")
    report(conversion.result)
    return 0


def add_convert_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `convert` to the CLI."""
    convert = commands.add_parser(
        "convert",
        parents=[router],
        help="turn a file into another kind of media (one or two jobs)",
        description="Finds the shortest way through the mesh's capabilities, e.g. video -> audio -> text.",
    )
    convert.add_argument("input", help="a file path")
    convert.add_argument("--to", required=True, choices=sorted(KIND_NAMES), help="the kind wanted")
    convert.add_argument("-o", "--output", type=Path, help="write the output here")
    convert.add_argument("--timeout", type=float, help="deadline for the whole conversion, in seconds")
    convert.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for the mesh"
    )
    convert.set_defaults(handler=_run)
