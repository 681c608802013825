"""`prizm top`: a live view of the mesh, refreshed every few seconds.

Endpoints, their states and jobs in flight come from the router's `WatchProviders` stream (every
endpoint, then each change as it happens). Job rates come from the router's Prometheus metrics when
`--metrics` names them: two scrapes an interval apart, a counter's rate being its increase over the
time between (a counter that went down was reset: its new value is the increase, as Prometheus'
`rate()` takes it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx
from prizm.v1 import router_service_pb2 as router_pb
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from prizm_core.cli.jsonview import enum_label
from prizm_core.cli.listing import table_console
from prizm_core.client import PrizmClient, router_address
from prizm_core.errors import PrizmError

__all__ = ["Mesh", "Rates", "Scrape", "add_top_command", "parse_scrape", "rates", "view"]

METRICS_ENV = "PRIZM_METRICS"
_COUNTERS = ("prizm_jobs", "prizm_failovers", "prizm_admission_rejections", "prizm_relayed_bytes")
_STATE_STYLE = {
    router_pb.ENDPOINT_STATE_SERVING: "green",
    router_pb.ENDPOINT_STATE_NOT_SERVING: "red",
    router_pb.ENDPOINT_STATE_PENDING: "yellow",
    router_pb.ENDPOINT_STATE_DRAINING: "yellow",
}
_SCRAPE_TIMEOUT_S = 2.0

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scrape:
    """The router's job counters at one moment.

    Attributes:
        at: When they were read (monotonic seconds).
        samples: Each counter sample by metric name and labels.
    """

    at: float
    samples: Mapping[tuple[str, Labels], float]

    def total(self, name: str, **match: str) -> float:
        """The sum of `name`'s samples whose labels include `match`."""
        return sum(
            value
            for (metric, labels), value in self.samples.items()
            if metric == name and all((key, want) in labels for key, want in match.items())
        )


def parse_scrape(text: str, at: float) -> Scrape:
    """The job counters of a Prometheus text exposition (the rest is left out)."""
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in _COUNTERS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(at, samples)


@dataclass(frozen=True)
class Rates:
    """Per-second rates between two scrapes.

    Attributes:
        jobs: Jobs ended per second, by provider.
        failed: Jobs ended with an error per second, by provider.
        failovers: Failovers per second.
        rejections: Jobs refused by admission per second.
        bytes_out: Bytes relayed to callers per second.
    """

    jobs: Mapping[str, float]
    failed: Mapping[str, float]
    failovers: float
    rejections: float
    bytes_out: float


def _increase(before: Scrape, after: Scrape, key: tuple[str, Labels]) -> float:
    now, then = after.samples[key], before.samples.get(key, 0.0)
    return now - then if now >= then else now


def rates(before: Scrape, after: Scrape) -> Rates:
    """What changed between two scrapes, per second."""
    seconds = max(after.at - before.at, 1e-9)
    jobs: dict[str, float] = defaultdict(float)
    failed: dict[str, float] = defaultdict(float)
    totals: dict[str, float] = defaultdict(float)
    for key in after.samples:
        name, labels = key
        per_second = _increase(before, after, key) / seconds
        found = dict(labels)
        if name == "prizm_jobs_total":
            jobs[found.get("provider", "")] += per_second
            if found.get("outcome", "OK") != "OK":
                failed[found.get("provider", "")] += per_second
        elif name != "prizm_relayed_bytes_total" or found.get("direction") == "to_caller":
            totals[name] += per_second
    return Rates(
        jobs=dict(jobs),
        failed=dict(failed),
        failovers=totals["prizm_failovers_total"],
        rejections=totals["prizm_admission_rejections_total"],
        bytes_out=totals["prizm_relayed_bytes_total"],
    )


@dataclass
class Mesh:
    """The router's endpoints as its watch last told them, and why the watch failed, if it did."""

    endpoints: dict[str, router_pb.ProviderEndpoint] = field(default_factory=dict)
    problem: str = ""

    def apply(self, event: router_pb.WatchProvidersResponse) -> None:
        """Takes in one change."""
        if event.change == router_pb.ENDPOINT_CHANGE_REMOVED:
            self.endpoints.pop(event.endpoint.address, None)
        else:
            self.endpoints[event.endpoint.address] = event.endpoint

    def replace(self, endpoints: Iterable[router_pb.ProviderEndpoint]) -> None:
        """Starts over from a full list."""
        self.endpoints = {e.address: e for e in endpoints}


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _since(endpoint: router_pb.ProviderEndpoint, now_s: float) -> str:
    if not endpoint.HasField("state_since"):
        return ""
    seconds = max(0, int(now_s - endpoint.state_since.ToDatetime().timestamp()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _header(router: str, mesh: Mesh, found: Rates | None, metrics: str) -> Text:
    serving = sum(e.state == router_pb.ENDPOINT_STATE_SERVING for e in mesh.endpoints.values())
    in_flight = sum(e.in_flight for e in mesh.endpoints.values())
    line = f"router {router} · {serving}/{len(mesh.endpoints)} endpoints serving · {in_flight} jobs in flight"
    if found is not None:
        line += (
            f" · {sum(found.jobs.values()):.1f} jobs/s · {sum(found.failed.values()):.1f} failed/s"
            f" · {found.failovers:.1f} failovers/s · {found.rejections:.1f} refused/s"
            f" · {found.bytes_out / 1e6:.2f} MB/s out"
        )
    text = Text(line, style="bold")
    if mesh.problem:
        text.append(f"\nwatch: {mesh.problem}", style="red")
    if metrics:
        text.append(f"\nmetrics: {metrics}", style="dim")
    return text


def view(
    router: str, mesh: Mesh, found: Rates | None, metrics: str = "", now_s: float | None = None
) -> Group:
    """The screen: a header line, then one row per endpoint (sorted by provider, address)."""
    now_s = time.time() if now_s is None else now_s
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("provider", "address", "state", "for", "in flight", "jobs/s", "failed/s", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    ordered = sorted(mesh.endpoints.values(), key=lambda e: (e.provider.id, e.address))
    for e in ordered:
        state = enum_label(router_pb.EndpointState.DESCRIPTOR, e.state)
        per_second = None if found is None else found.jobs.get(e.provider.id, 0.0)
        failing = None if found is None else found.failed.get(e.provider.id, 0.0)
        table.add_row(
            e.provider.id or "?",
            e.address,
            f"[{_STATE_STYLE.get(e.state, 'white')}]{state}[/]",
            _since(e, now_s),
            str(e.in_flight),
            _rate(per_second),
            _rate(failing),
            Text(e.detail),  # not markup: a provider's words as they are, `[redacted]` included
        )
    return Group(_header(router, mesh, found, metrics), table)


def _metrics_url(value: str) -> str:
    """`HOST:PORT` or a URL of the router's metrics; a bare address gets `http://` and `/metrics`."""
    if not value or "://" in value:
        return value
    return f"http://{value}/metrics"


async def _scrape(http: httpx.AsyncClient, url: str) -> tuple[Scrape | None, str]:
    try:
        response = await http.get(url)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return None, f"{url}: {type(exc).__name__}: {exc}"
    return parse_scrape(response.text, time.monotonic()), ""


async def _follow(client: PrizmClient, mesh: Mesh, pause_s: float) -> None:
    """Keeps `mesh` current; when the watch breaks, says why and starts over after a pause."""
    while True:
        try:
            mesh.replace(await client.list_providers())
            mesh.problem = ""
            async for event in client.watch_providers():
                mesh.apply(event)
        except PrizmError as exc:
            mesh.problem = f"{exc.code.name}: {exc.message}"
        await asyncio.sleep(pause_s)


@dataclass
class _Screens:
    """Makes each screen: waits an interval, scrapes, and compares with the scrape before."""

    router: str
    mesh: Mesh
    http: httpx.AsyncClient
    url: str
    interval_s: float
    before: Scrape | None = None
    said: str = ""

    async def start(self) -> None:
        hint = f"pass --metrics HOST:PORT (the router's metrics port) or set {METRICS_ENV} for rates"
        self.before, self.said = await _scrape(self.http, self.url) if self.url else (None, hint)

    async def next(self) -> Group:
        await asyncio.sleep(self.interval_s)
        after, problem = await _scrape(self.http, self.url) if self.url else (None, self.said)
        found = rates(self.before, after) if self.before and after else None
        screen = view(self.router, self.mesh, found, problem or self.said)
        self.before, self.said = after, "" if self.url else self.said
        return screen


async def _top(args: argparse.Namespace, console: Console) -> int:
    url = _metrics_url(args.metrics or os.environ.get(METRICS_ENV, ""))
    mesh = Mesh()
    async with PrizmClient(args.router) as client, httpx.AsyncClient(timeout=_SCRAPE_TIMEOUT_S) as http:
        follower = asyncio.create_task(_follow(client, mesh, args.interval))
        screens = _Screens(router_address(args.router), mesh, http, url, args.interval)
        try:
            await screens.start()
            if args.once:
                console.print(await screens.next())
                return 0
            with Live(console=console, auto_refresh=False) as live:
                shown = 0
                while not args.iterations or shown < args.iterations:
                    live.update(await screens.next(), refresh=True)
                    shown += 1
        finally:
            follower.cancel()
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_top(args, table_console()))
    except KeyboardInterrupt:  # how a person leaves a live view: not a failure
        return 0


def add_top_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], router: argparse.ArgumentParser
) -> None:
    """Adds `top` to the CLI."""
    top = commands.add_parser(
        "top",
        parents=[router],
        help="a live view of the mesh: endpoints, states, jobs in flight, rates",
        description="Endpoints from the router's WatchProviders; job rates from its Prometheus "
        f"metrics (--metrics or ${METRICS_ENV}). Ctrl-C leaves.",
    )
    top.add_argument("--metrics", metavar="HOST:PORT|URL", default="", help="the router's metrics endpoint")
    top.add_argument("--interval", type=_positive, default=2.0, help="seconds between refreshes (default 2)")
    top.add_argument("--iterations", type=int, default=0, help="refresh this many times, then exit")
    top.add_argument("--once", action="store_true", help="print one view (rates over one interval) and exit")
    top.set_defaults(handler=_run)
