"""The provider harness: serves any `Provider` class (server, health, warm-up, signals, drain)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import uvloop
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb

from prizm_core.channels import CHUNK_BYTES
from prizm_core.handlers import add_service
from prizm_core.logs import configure_logging
from prizm_core.security.tls import add_provider_tls_flags, provider_tls
from prizm_core.serving import (
    EXIT_UNAVAILABLE,
    GrpcServer,
    ServeSettings,
    announce_listening,
    announce_unavailable,
    stop_signal,
)
from prizm_core.telemetry.exposition import (
    MetricsConfig,
    add_metrics_flags,
    listening_fields,
    metrics_from_flags,
    serve_metrics,
)
from prizm_core.telemetry.grpc_metrics import ServerMetricsInterceptor
from prizm_core.telemetry.interceptors import observability_interceptors
from prizm_core.telemetry.json_logs import LOG_FORMATS
from prizm_core.telemetry.metrics import ProviderMetrics
from prizm_core.telemetry.tracing import TracingSettings
from provider_servers.sdk.capacity import JobTracker
from provider_servers.sdk.health import Health, watch_health
from provider_servers.sdk.provider import Provider
from provider_servers.sdk.registration import keep_registered
from provider_servers.sdk.servicer import ModelServicer, ProviderServicer

__all__ = ["ProviderSettings", "parse_settings", "run_provider", "serve"]

log = logging.getLogger(__name__)

PROVIDER_SERVICE = provider_pb.DESCRIPTOR.services_by_name["ProviderService"]
MODEL_SERVICE = model_pb.DESCRIPTOR.services_by_name["ModelService"]
_PARENT_POLL_S = 0.5
# A router multiplexes all its callers' jobs for a provider, its health Watch and checks onto one
# connection: a provider accepts more streams per connection than a router does from a caller.
PROVIDER_MAX_STREAMS = 4096


@dataclass(frozen=True)
class ProviderSettings:
    """How a provider process serves.

    Attributes:
        serve: Listening, reflection and drain settings.
        parent_pid: Stop when this process is gone (set by a router that launched us).
        log_level: Logging level name.
        register: Router to register with and keep a lease at, if any.
        advertise: Address the router should dial; the bound address when empty.
        lease_s: Lease to ask the router for.
        max_jobs: Most jobs at once, overriding the provider's `max_concurrent_jobs`.
        chunk_kib: Size of output chunks, in KiB.
        metrics: Where to serve Prometheus metrics; off unless `--metrics-port` is given.
        log_format: `text` or `json` (one object per line).
        tracing: Whether to trace; unset, the `OTEL_*` environment decides (see telemetry.tracing).
    """

    serve: ServeSettings
    parent_pid: int | None = None
    log_level: str = "INFO"
    register: str = ""
    advertise: str = ""
    lease_s: float = 30.0
    max_jobs: int | None = None
    chunk_kib: int = CHUNK_BYTES // 1024
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log_format: str = "text"
    tracing: TracingSettings = field(default_factory=TracingSettings)


def parse_settings(name: str, argv: Sequence[str]) -> ProviderSettings:
    """Parses a provider's command line."""
    parser = argparse.ArgumentParser(prog=f"prizm serve-provider {name}")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to drain on SIGTERM")
    parser.add_argument("--no-reflection", action="store_true", help="do not serve reflection")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="log lines as text or JSON")
    parser.add_argument("--register", metavar="ROUTER", default="", help="register with this router")
    parser.add_argument("--advertise", metavar="HOST:PORT", default="", help="address the router dials")
    parser.add_argument("--lease", type=float, default=30.0, help="lease to ask the router for, seconds")
    parser.add_argument("--max-jobs", type=int, help="most jobs at once (default: the provider's own)")
    parser.add_argument(
        "--chunk-kib", type=int, default=CHUNK_BYTES // 1024, help="output chunk size in KiB (default 512)"
    )
    add_provider_tls_flags(parser)
    add_metrics_flags(parser)
    args = parser.parse_args(list(argv))
    return ProviderSettings(
        serve=ServeSettings(
            tls=provider_tls(parser, args),
            host=args.host,
            port=args.port,
            reflection=not args.no_reflection,
            grace_s=args.grace,
            max_concurrent_streams=PROVIDER_MAX_STREAMS,
        ),
        parent_pid=args.parent_pid,
        log_level=args.log_level,
        register=args.register,
        advertise=args.advertise,
        lease_s=args.lease,
        max_jobs=args.max_jobs,
        chunk_kib=args.chunk_kib,
        metrics=metrics_from_flags(MetricsConfig(), args),
        log_format=args.log_format,
    )


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    # Linux tells a child nothing when its parent dies; polling getppid is the portable way.
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(_PARENT_POLL_S)
    log.warning("parent process %d is gone; stopping", parent_pid)
    stop.set()


async def _watch_health(provider: Provider, info: ProviderServicer) -> None:
    async def report(health: Health) -> None:
        await info.set_running(health.serving, health.detail)

    await watch_health(provider, report, info.recheck)


async def serve(provider: Provider, settings: ProviderSettings, stop: asyncio.Event) -> None:
    """Serves `provider` until `stop` is set, then drains and closes it.

    Listens at once (NOT_SERVING), announces the address on stdout, warms the
    provider up, then turns SERVING.
    """
    tracker = JobTracker(provider.max_concurrent_jobs if settings.max_jobs is None else settings.max_jobs)
    metrics = ProviderMetrics()
    interceptors = [
        *observability_interceptors(settings.tracing, provider.id, os.environ),
        *([ServerMetricsInterceptor(metrics.grpc)] if settings.metrics.enabled else []),
    ]
    server = GrpcServer(settings.serve, [PROVIDER_SERVICE.full_name, MODEL_SERVICE.full_name], interceptors)
    info = ProviderServicer(provider, tracker, server.set_serving)
    add_service(server.server, PROVIDER_SERVICE, info)
    models = ModelServicer(provider, tracker, settings.chunk_kib * 1024, metrics)
    add_service(server.server, MODEL_SERVICE, models)
    exposition = serve_metrics(settings.metrics, metrics.registry)
    address = await server.start()
    announce_listening(address, provider=provider.id, **listening_fields(exposition))
    watchers = []
    if settings.parent_pid is not None:
        watchers.append(asyncio.create_task(_watch_parent(settings.parent_pid, stop)))
    try:
        warm = asyncio.create_task(provider.warm_up())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({warm, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if warm.done():
            warm.result()
            if provider.health_interval_s > 0:
                # The first check decides whether it serves; until then it stays NOT_SERVING.
                watchers.append(asyncio.create_task(_watch_health(provider, info)))
            else:
                await info.set_running(True, "ready")
            log.info("provider %s serving on %s", provider.id, address)
            if settings.register:
                advertised = settings.advertise or address
                watchers.append(
                    asyncio.create_task(keep_registered(settings.register, advertised, settings.lease_s))
                )
            await stopped
        warm.cancel()
    finally:
        log.info("provider %s stopping: draining %d job(s)", provider.id, tracker.active)
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await server.stop()
        await provider.close()
        if exposition is not None:
            exposition.close()


async def _run(provider: Provider, settings: ProviderSettings) -> None:
    await serve(provider, settings, stop_signal())


def run_provider(provider_cls: type[Provider], argv: Sequence[str] | None = None) -> int:
    """Runs a provider class as its own gRPC server until SIGTERM or SIGINT; a process's entry point.

    Parses the command line (`--port`, `--register`, ...; `--help` lists them),
    refuses to start when the machine lacks what the provider needs, builds
    the provider from the environment and serves it. A provider package's
    `__main__.py` is `sys.exit(run_provider(MyProvider))`; `prizm
    serve-provider NAME` calls it too.

    Args:
        provider_cls: The provider to serve.
        argv: Its command-line arguments; `sys.argv[1:]` when None.

    Returns:
        The exit status: 0 after a clean stop, 78 (EX_CONFIG) when the provider
        cannot run here, 1 when the address cannot be bound.
    """
    settings = parse_settings(provider_cls.id, sys.argv[1:] if argv is None else argv)
    configure_logging(settings.log_level, log_format=settings.log_format)
    missing = provider_cls.missing()
    if missing:
        log.error("provider %s cannot run here: %s", provider_cls.id, "; ".join(missing))
        announce_unavailable("; ".join(missing))
        return EXIT_UNAVAILABLE
    provider = provider_cls.from_environment(os.environ)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(_run(provider, settings))
    except OSError as exc:  # the address is in use or cannot be bound
        log.error("provider %s cannot serve: %s", provider_cls.id, exc)
        return 1
    return 0
