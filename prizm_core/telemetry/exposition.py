"""The `/metrics` HTTP endpoint of a process, and its settings (the config's `metrics:` section)."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

import pydantic
from prometheus_client import CollectorRegistry, start_http_server

from prizm_core.config_values import section

__all__ = [
    "MetricsConfig",
    "MetricsServer",
    "add_metrics_flags",
    "listening_fields",
    "metrics_from_flags",
    "read_metrics",
    "serve_metrics",
]

log = logging.getLogger(__name__)


class MetricsConfig(pydantic.BaseModel):
    """Where a process serves its Prometheus metrics; off while `port` is unset.

    Attributes:
        host: Interface to bind; loopback unless a scraper elsewhere must reach it.
        port: Port to bind; 0 picks a free one; None turns metrics off.
    """

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)

    host: str = "127.0.0.1"
    port: int | None = pydantic.Field(default=None, ge=0, le=65535)

    @property
    def enabled(self) -> bool:
        """Whether metrics are served."""
        return self.port is not None


def read_metrics(data: Mapping[str, Any], source: str) -> MetricsConfig:
    """The config's `metrics:` section (absent: metrics off).

    Raises:
        ConfigError: Naming the key, e.g. `router.yaml: metrics.port: Input should be ...`.
    """
    return section(MetricsConfig, data, "metrics", source)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {value!r}")
    return port


def add_metrics_flags(parser: argparse.ArgumentParser) -> None:
    """`--metrics-port N` and `--metrics-host H`, which override the config's `metrics:`."""
    parser.add_argument(
        "--metrics-port", type=_port, metavar="N", help="serve Prometheus metrics on this port (0: any free)"
    )
    parser.add_argument("--metrics-host", metavar="HOST", help="interface for metrics (default 127.0.0.1)")


def metrics_from_flags(config: MetricsConfig, args: argparse.Namespace) -> MetricsConfig:
    """`config` with the flags of `add_metrics_flags` applied; a host alone does not turn metrics on."""
    port = config.port if args.metrics_port is None else args.metrics_port
    return MetricsConfig(host=args.metrics_host or config.host, port=port)


class MetricsServer:
    """prometheus_client's exposition server on its own thread: a scrape never waits for the event
    loop, and a busy loop never delays a scrape."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def address(self) -> str:
        """`host:port` it listens on."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def close(self) -> None:
        """Stops serving and frees the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def listening_fields(server: MetricsServer | None) -> dict[str, str]:
    """What a `listening` line adds for metrics: `{"metrics": "host:port"}`, or nothing when off."""
    return {} if server is None else {"metrics": server.address}


def serve_metrics(config: MetricsConfig, registry: CollectorRegistry) -> MetricsServer | None:
    """Serves `registry` at `http://host:port/metrics` when `config` turns metrics on.

    Raises:
        OSError: The port is in use or the host cannot be bound (`cannot serve metrics on ...`).
    """
    if config.port is None:
        return None
    try:
        server, thread = start_http_server(config.port, addr=config.host, registry=registry)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {config.host}:{config.port}: {exc.strerror or exc}") from None
    served = MetricsServer(server, thread)
    log.info("metrics on http://%s/metrics", served.address)
    return served
