"""A router process: its server and services, discovery, sidecars, and orderly shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping

from prizm.v1 import asset_service_pb2 as asset_pb
from prizm.v1 import model_service_pb2 as model_pb
from prizm.v1 import provider_service_pb2 as provider_pb
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config import RouterConfig, parse_address
from prizm_core.handlers import add_service
from prizm_core.router.admission import Admission
from prizm_core.router.asset_servicer import AssetServicer
from prizm_core.router.assets import AssetStore
from prizm_core.router.core import Router, RouterSettings
from prizm_core.router.dispatch import Dispatcher
from prizm_core.router.dns import DnsDiscovery, Resolver, system_resolver
from prizm_core.router.leases import Leases
from prizm_core.router.servicer import MeshModelServicer, MeshProviderServicer, RouterServicer
from prizm_core.router.sidecars import SidecarManager
from prizm_core.router.startup import SidecarEndpoints, announce_ready
from prizm_core.security.auth import auth_interceptors, check_exposure
from prizm_core.serving import GrpcServer, ServeSettings, announce_listening
from prizm_core.telemetry.exposition import listening_fields, serve_metrics
from prizm_core.telemetry.grpc_metrics import ServerMetricsInterceptor
from prizm_core.telemetry.interceptors import observability_interceptors
from prizm_core.telemetry.tracing import sidecar_environment

__all__ = ["DEFAULT_FORWARDED_METADATA", "run_router"]

log = logging.getLogger(__name__)

ROUTER_SERVICE = router_pb.DESCRIPTOR.services_by_name["RouterService"]
MODEL_SERVICE = model_pb.DESCRIPTOR.services_by_name["ModelService"]
PROVIDER_SERVICE = provider_pb.DESCRIPTOR.services_by_name["ProviderService"]
ASSET_SERVICE = asset_pb.DESCRIPTOR.services_by_name["AssetService"]
# Caller metadata relayed to providers (W3C trace context, request ids); config adds more.
DEFAULT_FORWARDED_METADATA = frozenset({"traceparent", "tracestate", "x-request-id"})


def _server(config: RouterConfig, router: Router, leases: Leases, assets: AssetStore) -> GrpcServer:
    host, port = parse_address(config.listen)
    settings = ServeSettings(
        host=host,
        port=port,
        reflection=config.reflection,
        grace_s=config.grace_s,
        reuse_port=config.reuse_port,
        tls=config.tls.server,
    )
    services = (ROUTER_SERVICE, MODEL_SERVICE, PROVIDER_SERVICE, ASSET_SERVICE)
    interceptors = [
        *observability_interceptors(config.tracing, "prizm-router", os.environ),
        *([ServerMetricsInterceptor(router.metrics.grpc)] if config.metrics.enabled else []),
        *auth_interceptors(config.auth),  # last: the others see (log, trace, count) its refusals
    ]
    server = GrpcServer(settings, [service.full_name for service in services], interceptors)
    admission = Admission(max_jobs=config.max_jobs, max_jobs_per_caller=config.max_jobs_per_caller)
    forwarded = DEFAULT_FORWARDED_METADATA | frozenset(config.forward_metadata)
    dispatcher = Dispatcher(router, admission, forwarded, assets, server.cut_off)
    routing = RouterServicer(dispatcher, leases, server.stopping)
    add_service(server.server, ROUTER_SERVICE, routing, raw_responses={"Transform"})
    add_service(server.server, MODEL_SERVICE, MeshModelServicer(dispatcher), raw_responses={"Transform"})
    add_service(server.server, PROVIDER_SERVICE, MeshProviderServicer(router))
    add_service(server.server, ASSET_SERVICE, AssetServicer(assets))
    return server


def _router(config: RouterConfig) -> Router:
    return Router(
        RouterSettings(
            default_policy=config.default_policy,
            max_attempts=config.max_attempts,
            drain_s=config.drain_s,
            startup_wait_s=config.startup_wait_s,
            health=config.health,
            tls=config.tls.client,
        )
    )


def _start_sidecars(
    config: RouterConfig, router: Router, sidecars: SidecarManager, environ: Mapping[str, str]
) -> None:
    for spec in config.sidecars:
        unset = spec.unset_env(environ)
        if unset:
            # Not launched at all: no process, and no endpoint a job could wait for.
            router.not_started[spec.provider] = f"set {' and '.join(unset)}"
            log.info("sidecar %s not started: %s is not set", spec.provider, ", ".join(unset))
            continue
        # The router's `tracing:` section reaches its sidecars as the OTEL_* variables they read.
        sidecars.start(
            dataclasses.replace(spec, env=(*sidecar_environment(config.tracing, environ), *spec.env))
        )


async def run_router(
    config: RouterConfig,
    stop: asyncio.Event,
    resolver: Resolver = system_resolver,
    on_ready: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Runs a router until `stop` is set, then drains it and stops its sidecars.

    The router serves at once; providers join as they turn SERVING. `resolver`
    answers the DNS names of `config.dns`. `on_ready` gets one line once every
    sidecar is serving or will not (see `ready_line`). A sidecar whose
    `requires_env` is not set in `environ` (`os.environ` when None) is not
    started; `ListProviders` names it with the variables to set.
    """
    exposure = check_exposure(parse_address(config.listen)[0], config.auth)
    router = _router(config)
    # `--workers` routers share one config: one metrics port cannot serve them all (not yet supported).
    exposition = None if config.reuse_port else serve_metrics(config.metrics, router.metrics.registry)
    leases = Leases(lambda gone: router.retire_endpoint(gone, "lease ran out"), default_s=config.lease_s)
    assets = AssetStore(config.asset_dir, config.asset_ttl_s, config.asset_max_bytes, config.asset_max_count)
    server = _server(config, router, leases, assets)
    sidecars = SidecarManager(SidecarEndpoints(router), config.grace_s)
    address = await server.start()
    router.asset_source = config.advertise or address
    for provider in config.providers:
        router.add_endpoint(provider.address, router_pb.DISCOVERY_SOURCE_STATIC, provider.priority)
    tasks = [asyncio.create_task(DnsDiscovery(router, target, resolver).run()) for target in config.dns]
    try:
        _start_sidecars(config, router, sidecars, os.environ if environ is None else environ)
        await server.set_serving(True)
        announce_listening(address, role="router", **listening_fields(exposition))
        log.info("router serving on %s; %s", address, exposure)
        if on_ready is not None:
            tasks.append(asyncio.create_task(announce_ready(router, sidecars.sidecars, address, on_ready)))
        await stop.wait()
    finally:
        log.info("router stopping: draining calls, then stopping sidecars")
        for task in tasks:
            task.cancel()
        await server.stop()
        await sidecars.stop()
        await leases.close()
        await router.close()
        await assets.close()
        if exposition is not None:
            exposition.close()
