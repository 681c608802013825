"""`prizm service up|down|status|logs`: a container service of a `prizm.service.yml`, by hand."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import docker
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from prizm_core.cli.explain import UsageError, explain
from prizm_core.cli.flags import positive_seconds, waiting_seconds
from prizm_core.cli.jsonview import print_json
from prizm_core.cli.listing import table_console
from prizm_core.errors import PrizmError, Reason
from prizm_core.services.containers import (
    ContainerState,
    container_logs,
    docker_client,
    follow_container_logs,
    service_state,
    service_states,
    stop_container,
)
from prizm_core.services.lifecycle import ServiceContainer
from prizm_core.services.locate import ServiceNotFoundError, find_manifest
from prizm_core.services.manifest import ManifestError, ServiceManifest, load_manifest

__all__ = ["EXIT_NO_GPU", "add_service_commands"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_GPU = 3
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_HEALTH = {True: "[green]healthy[/]", False: "[red]unhealthy[/]", None: "-"}
_SPEC = "NAME|PATH"
_SPEC_HELP = "a service's name, its folder or its prizm.service.yml"


def _manifest(spec: str) -> ServiceManifest:
    try:
        return load_manifest(find_manifest(spec, os.environ, Path.cwd()))
    except ServiceNotFoundError as exc:
        raise UsageError(str(exc)) from None


def _service_name(spec: str) -> str:
    """The service `spec` names; a bare name needs no manifest (its container may outlive it)."""
    try:
        return _manifest(spec).name
    except UsageError:
        if _NAME.match(spec):
            return spec
        raise


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1 to 65535): {text!r}")
    return int(text)


def _line_count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines (0 or more): {text!r}")
    return int(text)


def _up(args: argparse.Namespace) -> int:
    manifest = _manifest(args.service)
    service = ServiceContainer(manifest, port=args.port)
    console = Console(stderr=True, highlight=False)
    with console.status(f"{manifest.name}: preparing") as spinner:

        def progress(line: str) -> None:
            spinner.update(f"{manifest.name}: {line[:200]}")

        service.start(progress)
        try:
            service.wait_healthy(args.timeout, progress)
        except PrizmError:
            # Its last lines are in the error: leave no broken container behind.
            service.stop(timeout_s=0)
            raise
    console.print(f"{manifest.name} is up and healthy at {service.url}")
    print(service.url)
    return 0


def _down(args: argparse.Namespace) -> int:
    name = _service_name(args.service)
    stopped = stop_container(docker_client(), name, args.timeout)
    print(f"{name}: {'stopped and removed' if stopped else 'no container, nothing to do'}", file=sys.stderr)
    return 0


def _status_table(states: list[ContainerState]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    table.title = f"{len(states)} service container(s)"
    for column in ("service", "state", "health", "port", "image", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for state in states:
        port = str(state.port) if state.port else "-"
        # Not markup: an image name or a container's words, as they are (brackets included).
        image, detail = Text(state.image or "-"), Text(state.detail)
        table.add_row(state.name, state.state, _HEALTH[state.healthy], port, image, detail)
    return table


def _status(args: argparse.Namespace) -> int:
    client = docker_client()
    if args.service is None:
        states = service_states(client)
    else:
        states = [service_state(client, _service_name(args.service))]
    if args.json:
        print_json([dataclasses.asdict(state) for state in states])
    else:
        table_console().print(_status_table(states))
    return 0 if all(state.state != "missing" for state in states) else EXIT_FAILED


def _logs(args: argparse.Namespace) -> int:
    client = docker_client()
    name = _service_name(args.service)
    if service_state(client, name).state == "missing":
        print(f"error: no container prizm-{name}; start it with `prizm service up {name}`", file=sys.stderr)
        return EXIT_FAILED
    if args.follow:
        for chunk in follow_container_logs(client, name, args.tail):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    else:
        sys.stdout.write(container_logs(client, name, args.tail))
    return 0


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The handler, with a manifest's errors (exit 2), NO_GPU (exit 3) and Docker's own errors
    said in words; other errors go on to the CLI's handler."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ManifestError as exc:
            print(f"error: invalid service manifest:\n{exc}", file=sys.stderr)
            return EXIT_USAGE
        except PrizmError as exc:
            if exc.reason not in (Reason.NO_GPU, Reason.MANIFEST_INVALID):
                raise
            print("\n".join(explain(exc, "")), file=sys.stderr)
            return EXIT_NO_GPU if exc.reason == Reason.NO_GPU else EXIT_USAGE
        except docker.errors.DockerException as exc:
            print(f"error: the Docker engine failed: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


def add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `service up|down|status|logs` to the CLI."""
    service = commands.add_parser(
        "service",
        help="run, inspect and stop a container service (prizm.service.yml)",
        description="A NAME is looked up in $PRIZM_SERVICE_PATH, <PRIZM_HOME>/services, ./services "
        "and ./services/examples; the engine is that of DOCKER_HOST.",
    )
    actions = service.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="build or find its image, start it and wait until healthy")
    up.add_argument("service", metavar=_SPEC, help=_SPEC_HELP)
    up.add_argument("--port", type=_port, help="loopback port (services with port_env; default: a free one)")
    up.add_argument(
        "--timeout", type=positive_seconds, help="seconds to get healthy (default: the manifest's)"
    )
    up.set_defaults(handler=_guarded(_up))
    down = actions.add_parser("down", help="stop and remove its container")
    down.add_argument("service", metavar=_SPEC, help=_SPEC_HELP)
    down.add_argument(
        "--timeout", type=waiting_seconds, default=10, help="seconds before SIGKILL (default 10)"
    )
    down.set_defaults(handler=_guarded(_down))
    status = actions.add_parser("status", help="state, health, port and image (of every service by default)")
    status.add_argument("service", nargs="?", metavar=_SPEC, help=_SPEC_HELP)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_guarded(_status))
    logs = actions.add_parser("logs", help="print its container's output")
    logs.add_argument("service", metavar=_SPEC, help=_SPEC_HELP)
    logs.add_argument("-n", "--tail", type=_line_count, metavar="N", help="only the last N lines")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing as it comes")
    logs.set_defaults(handler=_guarded(_logs))
