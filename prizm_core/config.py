"""The router's config file: where it listens, which providers it knows and which it launches."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from prizm.v1 import router_service_pb2 as router_pb

from prizm_core.config_values import (
    ENV_NAME,
    ConfigError,
    env_map,
    listed,
    no_unknown_keys,
    number,
    parse_address,
    section,
    whole,
)
from prizm_core.security.callers import AuthConfig, auth_section, refuse_credential_headers
from prizm_core.security.tls import RouterTls, read_router_tls
from prizm_core.services.manifest import ManifestError, load_manifest
from prizm_core.telemetry.exposition import MetricsConfig, read_metrics
from prizm_core.telemetry.tracing import TracingSettings

__all__ = [
    "SERVICE_MANIFEST_ENV",
    "ConfigError",
    "DnsTarget",
    "HealthSettings",
    "RouterConfig",
    "SidecarSpec",
    "StaticProvider",
    "default_config_path",
    "load_config",
    "parse_address",
    "parse_policy",
]


def parse_policy(name: str) -> router_pb.RoutingPolicy.ValueType:
    """A routing policy by name: priority, cheapest or least-loaded."""
    key = "ROUTING_POLICY_" + name.strip().upper().replace("-", "_")
    if key != "ROUTING_POLICY_UNSPECIFIED":
        with contextlib.suppress(ValueError):
            return router_pb.RoutingPolicy.Value(key)
    raise ConfigError(f"unknown routing policy {name!r}; use priority, cheapest or least-loaded")


@dataclass(frozen=True)
class StaticProvider:
    """A provider endpoint listed in the config."""

    address: str
    priority: int = 0


@dataclass(frozen=True)
class SidecarSpec:
    """A provider the router launches as a child process on loopback.

    Attributes:
        provider: The provider's name (`prizm serve-provider NAME`).
        replicas: How many processes of it.
        priority: Routing priority; higher is preferred.
        args: More arguments of `serve-provider`.
        requires_env: Environment variables that must be set for it to start (a remote provider's
            key); without them the router does not launch it and lists what to set.
        env: Variables set for its process on top of the router's own (a remote provider's base
            URL: `OPENAI_BASE_URL` for a gateway). Keys belong in the environment, not here.
        python: The interpreter that runs `-m prizm_core.cli serve-provider` (a provider installed
            in its own virtual environment); the router's own when empty.
        label: Its name in logs and listings (a container service's name); `provider` when empty.
    """

    provider: str
    replicas: int = 1
    priority: int = 0
    args: tuple[str, ...] = ()
    requires_env: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    python: str = ""
    label: str = ""

    @property
    def shown_name(self) -> str:
        """The name it is listed and logged by: `label`, else `provider`."""
        return self.label or self.provider

    def unset_env(self, environ: Mapping[str, str]) -> list[str]:
        """The variables of `requires_env` that neither `environ` nor `env` sets (or sets empty)."""
        merged = {**environ, **dict(self.env)}
        return [name for name in self.requires_env if not merged.get(name, "").strip()]


@dataclass(frozen=True)
class HealthSettings:
    """Health checking, outlier ejection and flap damping thresholds (see router/signals.py)."""

    check_interval_s: float = 0.25
    check_timeout_s: float = 0.35
    unhealthy_checks: int = 2
    outlier_failures: int = 5
    ejection_s: float = 2.0
    ejection_max_s: float = 30.0
    flap_window_s: float = 10.0
    flap_hold_s: float = 2.0
    flap_hold_max_s: float = 30.0


@dataclass(frozen=True)
class DnsTarget:
    """A DNS name (e.g. a Kubernetes headless Service) whose addresses are provider endpoints."""

    name: str
    port: int
    interval_s: float = 5.0
    priority: int = 0
    nameserver: tuple[str, int] | None = None  # (IP, port) of the DNS server to ask; None: the system's


@dataclass(frozen=True)
class RouterConfig:
    """Everything a router process needs to start."""

    listen: str = "127.0.0.1:50051"
    providers: tuple[StaticProvider, ...] = ()
    sidecars: tuple[SidecarSpec, ...] = ()
    default_policy: router_pb.RoutingPolicy.ValueType = router_pb.ROUTING_POLICY_PRIORITY
    reflection: bool = True
    grace_s: float = 10.0
    drain_s: float = 30.0
    max_attempts: int = 3
    lease_s: float = 30.0
    dns: tuple[DnsTarget, ...] = ()
    max_jobs: int = 1_000
    max_jobs_per_caller: int = 100
    forward_metadata: tuple[str, ...] = ()
    health: HealthSettings = field(default_factory=HealthSettings)
    advertise: str = ""
    asset_dir: Path | None = None
    asset_ttl_s: float = 3600.0
    asset_max_bytes: int = 10 * 1024**3
    asset_max_count: int = 10_000
    # How long after a sidecar's launch a job waits for it rather than go to a lower-priority one.
    startup_wait_s: float = 30.0
    tls: RouterTls = field(default_factory=RouterTls)  # `tls:` (prizm_core.security.tls)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # `metrics:` (prizm_core.telemetry)
    tracing: TracingSettings = field(default_factory=TracingSettings)  # `tracing:` (telemetry.tracing)
    auth: AuthConfig = field(default_factory=AuthConfig)  # `auth:` (prizm_core.security.callers)
    # Not a config key: set for `--workers` routers, which share their port on purpose.
    reuse_port: bool = False


def _provider(item: object, where: str) -> StaticProvider:
    if isinstance(item, str):
        item = {"address": item}
    if not isinstance(item, dict) or "address" not in item:
        raise ConfigError(f"{where}: needs an address")
    no_unknown_keys(item, {"address", "priority"}, where)
    parse_address(str(item["address"]))
    return StaticProvider(
        address=str(item["address"]),
        priority=whole(item.get("priority", 0), f"{where}.priority", -1000),
    )


def _sidecar(item: object, where: str) -> SidecarSpec:
    if isinstance(item, str):
        item = {"provider": item}
    if not isinstance(item, dict) or not isinstance(item.get("provider"), str):
        raise ConfigError(f"{where}: needs a provider name")
    no_unknown_keys(item, {"provider", "replicas", "priority", "args", "requires_env", "env"}, where)
    args = item.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}.args: must be a list of strings")
    required = item.get("requires_env", [])
    required = [required] if isinstance(required, str) else required
    if not isinstance(required, list) or not all(
        isinstance(name, str) and ENV_NAME.fullmatch(name) for name in required
    ):
        raise ConfigError(f"{where}.requires_env: must be an environment variable name or a list of them")
    return SidecarSpec(
        provider=item["provider"],
        replicas=whole(item.get("replicas", 1), f"{where}.replicas", 1),
        priority=whole(item.get("priority", 0), f"{where}.priority", -1000),
        args=tuple(args),
        requires_env=tuple(required),
        env=env_map(item.get("env", {}), f"{where}.env"),
    )


# The variable through which a container service's sidecar gets its manifest (the provider
# harness takes no options of a provider's own).
SERVICE_MANIFEST_ENV = "PRIZM_SERVICE_MANIFEST"


def _service(item: object, where: str, base: Path) -> SidecarSpec:
    """A `services:` entry: the container provider of one `prizm.service.yml`, as a sidecar."""
    if isinstance(item, str):
        item = {"manifest": item}
    if not isinstance(item, dict) or not isinstance(item.get("manifest"), str):
        raise ConfigError(f"{where}: needs a manifest path")
    no_unknown_keys(item, {"manifest", "priority"}, where)
    path = (base / item["manifest"]).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}.manifest: no such file: {path}")
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        raise ConfigError(f"{where}.manifest: not a valid service manifest:\n{exc}") from None
    return SidecarSpec(
        provider="container",
        priority=whole(item.get("priority", 0), f"{where}.priority", -1000),
        env=((SERVICE_MANIFEST_ENV, str(path)),),
        label=manifest.name,
    )


def _services(data: Mapping[str, Any], source: str, base: Path) -> tuple[SidecarSpec, ...]:
    entries = listed(data, "services", source)
    return tuple(_service(item, f"{source}: services[{i}]", base) for i, item in enumerate(entries))


def _nameserver(value: object, where: str) -> tuple[str, int] | None:
    if value is None:
        return None
    with contextlib.suppress(ValueError):  # ConfigError (from parse_address and _int) is one
        host, port = parse_address(str(value))
        return str(ipaddress.ip_address(host)), whole(port, where, 1)
    raise ConfigError(f"{where}: must be the IP:PORT of a DNS server ([IPv6]:PORT), got {value!r}")


def _dns(item: object, where: str) -> DnsTarget:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "port" not in item:
        raise ConfigError(f"{where}: needs a name and a port")
    no_unknown_keys(item, {"name", "port", "interval_s", "priority", "nameserver"}, where)
    return DnsTarget(
        name=item["name"],
        port=whole(item["port"], f"{where}.port", 1),
        interval_s=number(item.get("interval_s", 5.0), f"{where}.interval_s", 0.1),
        priority=whole(item.get("priority", 0), f"{where}.priority", -1000),
        nameserver=_nameserver(item.get("nameserver"), f"{where}.nameserver"),
    )


def _health(item: object, where: str) -> HealthSettings:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping")
    known = {f.name: f.type for f in fields(HealthSettings)}
    no_unknown_keys(item, set(known), where)
    values: dict[str, Any] = {}
    for name, value in item.items():
        is_count = known[name] == "int"
        values[name] = whole(value, f"{where}.{name}", 1) if is_count else number(value, f"{where}.{name}")
    return HealthSettings(**values)


_TOP_LEVEL = {
    "listen",
    "providers",
    "sidecars",
    "services",
    "dns",
    "default_policy",
    "reflection",
    "grace_s",
    "drain_s",
    "max_attempts",
    "lease_s",
    "max_jobs",
    "max_jobs_per_caller",
    "forward_metadata",
    "health",
    "advertise",
    "asset_dir",
    "asset_ttl_s",
    "asset_max_bytes",
    "asset_max_count",
    "startup_wait_s",
    "auth",
    "tls",
    "metrics",
    "tracing",
}


def parse_config(data: Mapping[str, Any], source: str, base: Path | None = None) -> RouterConfig:
    """Builds a RouterConfig from parsed YAML; unknown keys are errors. Relative manifest paths of
    `services:` start from `base` (the config file's folder), else from the working folder."""
    no_unknown_keys(dict(data), _TOP_LEVEL, source)
    listen = str(data.get("listen", RouterConfig.listen))
    parse_address(listen)
    forward = listed(data, "forward_metadata", source)
    if not all(isinstance(name, str) and name == name.lower() for name in forward):
        raise ConfigError(f"{source}: forward_metadata must be lower-case header names")
    refuse_credential_headers(forward, source)  # a caller's credential never reaches a provider
    return RouterConfig(
        listen=listen,
        providers=tuple(
            _provider(p, f"{source}: providers[{i}]") for i, p in enumerate(listed(data, "providers", source))
        ),
        sidecars=tuple(
            _sidecar(s, f"{source}: sidecars[{i}]") for i, s in enumerate(listed(data, "sidecars", source))
        )
        + _services(data, source, base or Path.cwd()),
        dns=tuple(_dns(d, f"{source}: dns[{i}]") for i, d in enumerate(listed(data, "dns", source))),
        default_policy=parse_policy(str(data.get("default_policy", "priority"))),
        reflection=bool(data.get("reflection", True)),
        grace_s=number(data.get("grace_s", RouterConfig.grace_s), f"{source}: grace_s"),
        drain_s=number(data.get("drain_s", RouterConfig.drain_s), f"{source}: drain_s"),
        max_attempts=whole(data.get("max_attempts", 3), f"{source}: max_attempts", 1),
        lease_s=number(data.get("lease_s", RouterConfig.lease_s), f"{source}: lease_s", 0.1),
        max_jobs=whole(data.get("max_jobs", RouterConfig.max_jobs), f"{source}: max_jobs", 1),
        max_jobs_per_caller=whole(
            data.get("max_jobs_per_caller", RouterConfig.max_jobs_per_caller),
            f"{source}: max_jobs_per_caller",
            1,
        ),
        forward_metadata=tuple(forward),
        health=_health(data.get("health") or {}, f"{source}: health"),
        advertise=_advertise(data.get("advertise", ""), source),
        asset_dir=Path(str(data["asset_dir"])) if data.get("asset_dir") else None,
        asset_ttl_s=number(data.get("asset_ttl_s", RouterConfig.asset_ttl_s), f"{source}: asset_ttl_s", 1.0),
        asset_max_bytes=whole(
            data.get("asset_max_bytes", RouterConfig.asset_max_bytes), f"{source}: asset_max_bytes", 1
        ),
        asset_max_count=whole(
            data.get("asset_max_count", RouterConfig.asset_max_count), f"{source}: asset_max_count", 1
        ),
        startup_wait_s=number(
            data.get("startup_wait_s", RouterConfig.startup_wait_s), f"{source}: startup_wait_s"
        ),
        tls=read_router_tls(data, source, base or Path.cwd()),
        metrics=read_metrics(data, source),
        tracing=section(TracingSettings, data, "tracing", source),
        auth=auth_section(data, source, base or Path.cwd()),
    )


def _advertise(value: object, source: str) -> str:
    if value:
        parse_address(str(value))
    return str(value or "")


def default_config_path() -> Path:
    """The config `prizm up` uses when given none: the router plus the local providers."""
    return Path(str(files("prizm_core").joinpath("default_config.yaml")))


def load_config(path: Path | None) -> RouterConfig:
    """Reads a config file; None gives the bare router (no providers, no sidecars)."""
    if path is None:
        return RouterConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping at the top level")
    return parse_config(data, str(path), path.parent)
