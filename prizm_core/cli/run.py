"""`prizm run`: one job through the router, with a live progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import grpc
from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from prizm_core.assets import extension_for, text_asset
from prizm_core.capabilities import capability_by_name
from prizm_core.client import FileSink, JobResult, MemorySink, OutputSink, PrizmClient
from prizm_core.config import ConfigError, parse_policy
from prizm_core.errors import PrizmError, invalid_argument
from prizm_core.options import parse_option

__all__ = ["add_run_command"]


def _input(capability: str, value: str) -> media_pb.Asset | Path:
    """Text capabilities take the text itself (`@file` reads a file, `-` stdin); others a file path
    (sent inline when small, uploaded when large)."""
    info = capability_by_name(capability)
    if info.input_kind == media_pb.MEDIA_KIND_TEXT:
        if value == "-":
            return text_asset(sys.stdin.read())
        if value.startswith("@"):
            return text_asset(Path(value[1:]).read_text(encoding="utf-8"))
        return text_asset(value)
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {value}")
    return path


def output_sink(output: Path | None, job_prefix: str, text_output: bool) -> OutputSink:
    if output is None and text_output:
        return MemorySink()

    def path_for(index: int, asset: media_pb.Asset) -> Path:
        if output is None:
            return Path(f"prizm-{job_prefix}-{index}{extension_for(asset.mime_type)}")
        return output if index == 0 else output.with_name(f"{output.stem}-{index}{output.suffix}")

    return FileSink(path_for)


class ProgressBar:
    """A rich progress bar fed by job events, on stderr."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("routing", total=100)

    def __call__(self, event: router_pb.RouterServiceTransformResponse) -> None:
        which = event.WhichOneof("event")
        if which == "progress":
            p = event.progress
            description = " · ".join(part for part in (p.stage, p.message) if part) or "working"
            fields: dict[str, object] = {"description": description}
            if p.HasField("fraction"):
                fields["completed"] = p.fraction * 100
            self.progress.update(self.task, **fields)  # type: ignore[arg-type]
        elif which == "output_header":
            self.progress.update(self.task, description="receiving output")
        elif which == "completion":
            self.progress.update(self.task, completed=100, description="done")


async def _parameters(
    client: PrizmClient, capability: str, args: argparse.Namespace
) -> dict[str, catalog_pb.Parameter]:
    """The option schema of the models that could take the job, to type `--option` values."""
    if not args.option:
        return {}
    models = await client.list_models(capability, args.provider or "")
    return {p.name: p for m in reversed(models) if not args.model or m.id == args.model for p in m.parameters}


async def _run_job(args: argparse.Namespace) -> JobResult:
    capability = capability_by_name(args.capability)
    routing = router_pb.RoutingHints(provider=args.provider or "", allow_fallback=args.allow_fallback)
    if args.policy:
        routing.policy = parse_policy(args.policy)
    console = Console(stderr=True)
    async with PrizmClient(args.router) as client:
        if args.wait:
            await client.wait_for_capability(capability.name, args.wait, args.provider or "")
        schema = await _parameters(client, capability.name, args)
        options = dict(parse_option(option, schema) for option in args.option)
        text_output = capability.output_kind == media_pb.MEDIA_KIND_TEXT
        bar = ProgressBar(console)
        with bar.progress:
            return await client.run(
                capability.name,
                _input(capability.name, args.input),
                model=args.model or "",
                options=options,
                routing=routing,
                timeout=args.timeout,
                on_event=bar,
                sink=output_sink(args.output, "job", text_output),
            )


def report(result: JobResult) -> None:
    console = Console(stderr=True)
    for output in result.outputs:
        provenance = output.provenance
        where = f"{provenance.provider_id}/{provenance.model_id}"
        cost = f"{result.cost.amount:g} {result.cost.currency}".strip()
        console.print(
            f"[green]✓[/] job {result.job_id[:12]} · {where} · {output.mime_type} · "
            f"{output.size_bytes} bytes · cost {cost} · {result.progress_events} progress events"
        )
        if output.path is not None:
            console.print(f"  wrote {output.path}")
        else:
            print(output.text())


def _run(args: argparse.Namespace) -> int:
    try:
        capability_by_name(args.capability)
    except KeyError:
        raise PrizmError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "UNKNOWN_CAPABILITY",
            f"unknown capability {args.capability!r}; see `prizm models`",
        ) from None
    try:
        result = asyncio.run(_run_job(args))
    except ConfigError as exc:
        raise invalid_argument([("policy", str(exc))]) from None
    report(result)
    return 0


def add_run_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `run` to the CLI."""
    run = commands.add_parser(
        "run",
        parents=[router],
        help="run one job through the router",
        description=(
            "INPUT is the text itself for text capabilities (@FILE reads a file, - reads stdin), "
            "otherwise a file path. Text output is printed; other output goes to -o FILE."
        ),
    )
    run.add_argument("capability", help="e.g. text-to-audio, audio-to-text")
    run.add_argument("input", help="text, @file, - or a file path")
    run.add_argument("-o", "--output", type=Path, help="write the output here")
    run.add_argument("--provider", help="only this provider")
    run.add_argument("--model", help="only this model")
    run.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model option (repeatable)",
    )
    run.add_argument("--policy", help="priority, cheapest or least-loaded")
    run.add_argument(
        "--allow-fallback", action="store_true", help="another provider may stand in for --provider"
    )
    run.add_argument("--timeout", type=float, help="deadline for the whole job, in seconds")
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a provider (the one named by --provider, if any)",
    )
    run.set_defaults(handler=_run)
