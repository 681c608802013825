"""One health check of a service: an HTTP GET answered 2xx, or a grpc.health.v1 Check answered SERVING."""

from __future__ import annotations

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from prizm_core.services.manifest import HealthCheck

__all__ = ["describe", "from_label", "probe", "to_label"]

_HTTP = "http:"
_GRPC = "grpc:"


def _http(address: str, path: str, timeout_s: float) -> bool:
    # trust_env=False: a proxy from the environment must not sit between us and a loopback port.
    try:
        with httpx.Client(trust_env=False, timeout=timeout_s) as client:
            return client.get(f"http://{address}{path}").is_success
    except httpx.HTTPError:
        return False


def _grpc(address: str, service: str, timeout_s: float) -> bool:
    options = [("grpc.enable_http_proxy", 0)]
    try:
        with grpc.insecure_channel(address, options=options) as channel:
            # The grpcio-health-checking stubs declare HealthStub without its methods.
            reply = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def probe(address: str, health: HealthCheck, timeout_s: float = 2.0) -> bool:
    """Whether the service at `address` (`127.0.0.1:PORT`) answers its health check as up."""
    if health.http is not None:
        return _http(address, health.http, timeout_s)
    return _grpc(address, health.grpc or "", timeout_s)


def describe(health: HealthCheck) -> str:
    """The check in words: `GET /health-check` or `gRPC health check of "name"`."""
    if health.http is not None:
        return f"GET {health.http}"
    return f'gRPC health check of "{health.grpc or ""}"'


def to_label(health: HealthCheck) -> str:
    """The check as a container label's value (`http:/path` or `grpc:name`), for `prizm service status`."""
    return f"{_HTTP}{health.http}" if health.http is not None else f"{_GRPC}{health.grpc or ''}"


def from_label(text: str) -> HealthCheck | None:
    """The check a container's label holds; None for a label this version does not know."""
    if text.startswith(_HTTP):
        return HealthCheck(http=text.removeprefix(_HTTP))
    if text.startswith(_GRPC):
        return HealthCheck(grpc=text.removeprefix(_GRPC))
    return None
