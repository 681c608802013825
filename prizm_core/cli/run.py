"""`prizm run`: one job through the router, with a live progress bar."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from prizm.v1 import catalog_pb2 as catalog_pb
from prizm.v1 import media_pb2 as media_pb
from prizm.v1 import router_service_pb2 as router_pb
from rich.console import Console

from prizm_core.capabilities import CapabilityInfo, capability_by_name
from prizm_core.cli.explain import UsageError
from prizm_core.cli.flags import (
    capability_name,
    complete_capabilities,
    did_you_mean,
    option_text,
    policy_name,
    positive_seconds,
    utf8_text,
    waiting_seconds,
)
from prizm_core.cli.inputs import read_input
from prizm_core.cli.jsonview import print_json, result_json
from prizm_core.cli.outputs import (
    STDIO,
    check_output_path,
    format_for_output,
    output_sink,
    write_to_stdout,
)
from prizm_core.cli.progress import ProgressBar
from prizm_core.client import JobResult, PrizmClient
from prizm_core.config import parse_policy
from prizm_core.errors import Reason, invalid_argument
from prizm_core.options import OptionValue, parse_option

__all__ = ["add_output_flags", "add_run_command", "check_output_flags", "report"]


def _options(
    texts: Sequence[str], models: Sequence[catalog_pb.Model], capability: str
) -> dict[str, OptionValue]:
    """`--option` values, typed by the candidates' schemas; an option none of them takes is refused.

    With no candidate known (none routable yet) the values are typed by their look, and the
    provider that takes the job checks them.
    """
    schema = {p.name: p for m in reversed(models) for p in m.parameters}
    unknown = sorted({text.partition("=")[0] for text in texts} - set(schema)) if models else []
    if unknown:
        named = [f"{m.provider_id}/{m.id}" for m in models]
        who = " or ".join(named) if len(named) <= 3 else f"any {capability} model here"
        raise invalid_argument(
            [(f"options.{name}", f"not an option of {who}{did_you_mean(name, schema)}") for name in unknown],
            Reason.INVALID_OPTIONS,
        )
    return dict(parse_option(text, schema) for text in texts)


async def _candidates(
    client: PrizmClient, capability: CapabilityInfo, args: argparse.Namespace
) -> list[catalog_pb.Model]:
    """The models that could take the job (of `--provider` and `--model`, when named)."""
    models = await client.list_models(capability.name, args.provider or "")
    return [m for m in models if not args.model or m.id == args.model]


async def _run_job(
    args: argparse.Namespace, capability: CapabilityInfo, source: media_pb.Asset | Path
) -> JobResult:
    routing = router_pb.RoutingHints(provider=args.provider or "", allow_fallback=args.allow_fallback)
    if args.policy:
        routing.policy = parse_policy(args.policy)
    async with PrizmClient(args.router) as client:
        if args.wait:
            await client.wait_for_capability(capability.name, args.wait, args.provider or "")
        models = await _candidates(client, capability, args)
        options = _options(args.option, models, capability.name)
        chosen = format_for_output(args.output, options, models)
        if chosen is not None:
            options["format"] = chosen
        text_output = capability.output_kind == media_pb.MEDIA_KIND_TEXT
        with ProgressBar(Console(stderr=True)) as bar:
            return await client.run(
                capability.name,
                source,
                model=args.model or "",
                options=options,
                routing=routing,
                timeout=args.timeout,
                on_event=bar,
                sink=output_sink(args.output, "job", text_output),
            )


def report(result: JobResult, args: argparse.Namespace, via: Sequence[str] = ()) -> None:
    """Shows a finished job: JSON on stdout with `--json`, else a line per output on stderr.

    Outputs kept in memory go to stdout: text printed, or bytes as they are for `-o -`. A
    conversion names the capabilities it went `via`.
    """
    if args.json:
        print_json({**result_json(result), "via": list(via)} if via else result_json(result))
        return
    console = Console(stderr=True, soft_wrap=True, highlight=False)  # whole lines, for grep
    if via:
        console.print(f"via {' → '.join(via)}")
    for output in result.outputs:
        provenance = output.provenance
        console.print(
            f"[green]✓[/] job {result.job_id[:12]} · {provenance.provider_id}/{provenance.model_id} · "
            f"{output.mime_type} · {output.size_bytes} bytes · cost {result.cost} · "
            f"{result.progress_events} progress events"
        )
        if output.path is not None:
            console.print(f"  wrote {output.path}")
    if args.output == STDIO:
        write_to_stdout(result)
        return
    for output in result.outputs:
        if output.path is None:
            print(output.text())


def check_output_flags(args: argparse.Namespace) -> None:
    """Refuses `-o` and `--json` as given before any work: a path that cannot be written, or both
    asking for stdout."""
    if args.json and args.output == STDIO:
        raise UsageError("--json and -o - both write to stdout; leave one out")
    check_output_path(args.output)


def _run(args: argparse.Namespace) -> int:
    capability = capability_by_name(capability_name(args.capability))
    check_output_flags(args)
    source = read_input(capability, args.input)
    report(asyncio.run(_run_job(args, capability, source)), args)
    return 0


def add_output_flags(command: argparse.ArgumentParser, what: str) -> None:
    """Adds `-o`, `--json`, `--timeout` and `--wait` (how long to wait for `what`)."""
    command.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the output here (- for stdout); its extension picks the format",
    )
    command.add_argument(
        "--json", action="store_true", help="print the result (outputs, sha256, provenance) as JSON"
    )
    command.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="deadline for the whole job, in seconds"
    )
    command.add_argument(
        "--wait", type=waiting_seconds, default=0.0, metavar="SECONDS", help=f"wait this long for {what}"
    )


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
            "otherwise a file path (- reads stdin). Text output is printed; other output goes to "
            "-o FILE, whose extension picks the format (-o - writes stdout)."
        ),
    )
    complete_capabilities(run.add_argument("capability", help="e.g. text-to-audio, audio-to-text"))
    run.add_argument("input", help="text, @file, - or a file path")
    run.add_argument("--provider", type=utf8_text, help="only this provider")
    run.add_argument("--model", type=utf8_text, help="only this model")
    run.add_argument(
        "--option",
        action="append",
        type=option_text,
        default=[],
        metavar="KEY=VALUE",
        help="model option (repeatable); see `prizm models MODEL`",
    )
    run.add_argument("--policy", type=policy_name, help="priority, cheapest or least-loaded")
    run.add_argument(
        "--allow-fallback", action="store_true", help="another provider may stand in for --provider"
    )
    add_output_flags(run, "a provider (the one named by --provider, if any)")
    run.set_defaults(handler=_run)
