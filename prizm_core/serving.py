"""The gRPC server every Prizm process runs: health, reflection, graceful drain, stop signals."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection

from prizm_core.channels import server_options
from prizm_core.handlers import add_service
from prizm_core.health import HealthServicer
from prizm_core.security.tls import ServerTls, server_credentials
from prizm_core.stopping import Trigger

__all__ = [
    "EXIT_UNAVAILABLE",
    "GrpcServer",
    "ServeSettings",
    "announce_listening",
    "announce_unavailable",
    "ensure_free",
    "stop_signal",
]

log = logging.getLogger(__name__)

# Exit status (EX_CONFIG) of a server that cannot run on this machine: unknown provider, missing
# extra or tool. A router does not restart a sidecar that exits with it.
EXIT_UNAVAILABLE = 78

# Looked up in the pool (filled by importing health_pb2) for a typed descriptor.
HEALTH_SERVICE = descriptor_pool.Default().FindServiceByName("grpc.health.v1.Health")
REFLECTION_SERVICE = descriptor_pool.Default().FindServiceByName(reflection.SERVICE_NAME)
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServeSettings:
    """Where and how a server listens and stops.

    Attributes:
        host: Interface to bind; loopback unless deliberately exposed.
        port: Port to bind; 0 picks a free one.
        reflection: Whether to serve gRPC server reflection.
        grace_s: How long in-flight calls may take to finish on stop.
        notice_s: How long NOT_SERVING is shown before new calls are refused,
            so health watchers route away before the listener closes.
        cut_off_s: How long calls still running when the grace ends have to end
            themselves with a status of their own, before gRPC cancels them.
        max_concurrent_streams: Streams allowed per connection.
        reuse_port: Share the port with other servers of ours (router workers); otherwise a
            port in use is refused.
        tls: Serve TLS (mTLS when it names a client CA), reloading its files; plaintext when None.
    """

    host: str = "127.0.0.1"
    port: int = 0
    reflection: bool = True
    grace_s: float = 10.0
    notice_s: float = 0.25
    cut_off_s: float = 1.0
    max_concurrent_streams: int = 1_000
    reuse_port: bool = False
    tls: ServerTls | None = None


class GrpcServer:
    """A `grpc.aio` server with health for `""` and each named service, and reflection.

    It starts NOT_SERVING; the owner calls `set_serving(True)` once warm. Long
    calls listen to `stopping` (fired when the stop begins: streams that never
    end by themselves, like watches, end then) and `cut_off` (fired when the
    grace is over: jobs still running end with a status that says so).
    """

    def __init__(
        self,
        settings: ServeSettings,
        service_names: Sequence[str],
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self.service_names = tuple(service_names)
        # The first interceptor is the outermost: it sees every call, and the others' refusals.
        self.server = grpc.aio.server(
            interceptors=list(interceptors),
            options=server_options(settings.max_concurrent_streams, settings.reuse_port),
        )
        self.health = HealthServicer()
        self.stopping = Trigger()
        self.cut_off = Trigger()
        add_service(self.server, HEALTH_SERVICE, self.health)
        if settings.reflection:
            names = (*self.service_names, HEALTH_SERVICE.full_name, reflection.SERVICE_NAME)
            # Registered like every other service, so its requests are decoded (and refused) the same way.
            add_service(self.server, REFLECTION_SERVICE, reflection.aio.ReflectionServicer(names))
        self.port = 0

    @property
    def address(self) -> str:
        """`host:port` the server listens on, once started."""
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> str:
        """Binds, starts NOT_SERVING and returns the address.

        Raises:
            OSError: The address is in use (and not shared on purpose) or cannot be bound here.
        """
        host, port = self.settings.host, self.settings.port
        if not self.settings.reuse_port:
            ensure_free(host, port)
        try:
            if self.settings.tls is None:
                self.port = self.server.add_insecure_port(f"{host}:{port}")
            else:
                credentials = server_credentials(self.settings.tls)
                self.port = self.server.add_secure_port(f"{host}:{port}", credentials)
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise OSError(f"cannot listen on {host}:{port}: the address is in use or not available here")
        await self.set_serving(False)
        await self.server.start()
        return self.address

    async def set_serving(self, serving: bool) -> None:
        """Sets the health of `""` and of every service."""
        status = _SERVING if serving else _NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Graceful stop: NOT_SERVING, a moment for watchers to notice, drain, then close.

        New calls are refused after the notice; calls still running when the grace
        is over are cut off, and gRPC cancels what is left `cut_off_s` later.
        """
        self.stopping.fire()
        await self.health.shutdown()
        await asyncio.sleep(self.settings.notice_s)
        stopped = asyncio.create_task(self.server.stop(self.settings.grace_s + self.settings.cut_off_s))
        done, _ = await asyncio.wait({stopped}, timeout=self.settings.grace_s)
        if not done:
            log.info("grace of %.1f s is over: cutting off the calls still running", self.settings.grace_s)
            self.cut_off.fire()
        await stopped

    async def wait_for_termination(self) -> None:
        """Returns when the server has stopped."""
        await self.server.wait_for_termination()


def ensure_free(host: str, port: int) -> None:
    """Refuses an address another server listens on, as binding it without SO_REUSEPORT would.

    Raises:
        OSError: With a one-line message naming the address.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(
                socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
            )  # as gRPC binds: TIME_WAIT is no obstacle
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def stop_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT in the running loop."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def announce_listening(address: str, **fields: str) -> None:
    """Writes the one machine-readable line a parent process waits for on stdout."""
    sys.stdout.write(json.dumps({"event": "listening", "address": address, **fields}) + "\n")
    sys.stdout.flush()


def announce_unavailable(reason: str) -> None:
    """Tells a parent process on stdout why this server cannot run here (before exiting with
    EXIT_UNAVAILABLE), so a router can say why it skipped it, e.g. `pip install 'prizm[ocr]'`."""
    sys.stdout.write(json.dumps({"event": "unavailable", "reason": reason}) + "\n")
    sys.stdout.flush()
