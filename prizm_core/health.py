"""`grpc.health.v1.Health` for Prizm servers, with Watch streams that end when the server drains.

The reference servicer keeps `Watch` streams open through a graceful stop, so a
server with a watching router waits out its whole grace period. This one sends
NOT_SERVING to every watcher and then ends their streams, so the drain waits
only for real work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from prizm_core.errors import PrizmError, Reason

__all__ = ["HEARTBEAT_HEADER", "HealthServicer"]

# Watch metadata asking for the status to be repeated at this period (ms) while it does not change.
HEARTBEAT_HEADER = "prizm-heartbeat-ms"
_MIN_HEARTBEAT_MS, _MAX_HEARTBEAT_MS = 50, 60_000

Status = int  # a health_pb2.HealthCheckResponse.ServingStatus value
_SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# types-grpcio-health-checking predates the List RPC; the runtime module has it.
_HealthListResponse: Any = getattr(health_pb2, "HealthListResponse")  # noqa: B009


def _heartbeat_s(context: grpc.aio.ServicerContext[Any, Any]) -> float | None:
    for key, value in context.invocation_metadata() or ():
        if key == HEARTBEAT_HEADER and isinstance(value, str) and value.isdigit():
            return min(max(int(value), _MIN_HEARTBEAT_MS), _MAX_HEARTBEAT_MS) / 1000
    return None


class HealthServicer:
    """Serving status per service name (`""` is the whole server)."""

    def __init__(self) -> None:
        self._status: dict[str, Status] = {}
        self._changed = asyncio.Condition()
        self._closing = False

    async def set(self, service: str, status: Status) -> None:
        """Sets a service's status and wakes its watchers; ignored once shutting down."""
        if self._closing:
            return
        async with self._changed:
            self._status[service] = status
            self._changed.notify_all()

    async def shutdown(self) -> None:
        """Sets every service NOT_SERVING for good; watchers get it, then their streams end."""
        async with self._changed:
            self._closing = True
            for service in self._status:
                self._status[service] = _NOT_SERVING
            self._changed.notify_all()

    async def Check(  # noqa: N802 - gRPC method name
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        """The status of one service; NOT_FOUND for a service never registered."""
        status = self._status.get(request.service)
        if status is None:
            raise PrizmError(
                grpc.StatusCode.NOT_FOUND, Reason.UNKNOWN_SERVICE, f"unknown service {request.service!r}"
            )
        return health_pb2.HealthCheckResponse(status=status)

    async def List(  # noqa: N802 - gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """The status of every registered service."""
        statuses = {name: health_pb2.HealthCheckResponse(status=s) for name, s in self._status.items()}
        return _HealthListResponse(statuses=statuses)

    async def Watch(  # noqa: N802 - gRPC method name
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """The status now, then each change; SERVICE_UNKNOWN for an unregistered service.

        A watcher that sends `prizm-heartbeat-ms` also gets the status again at
        that period while nothing changes: proof the server's loop still runs,
        far cheaper than a Check call each time.
        """
        heartbeat = _heartbeat_s(context)
        last: Status | None = None
        while True:
            async with self._changed:
                status = self._status.get(request.service, _SERVICE_UNKNOWN)
                if status == last:
                    if self._closing:
                        return
                    try:
                        await asyncio.wait_for(self._changed.wait(), heartbeat)
                        continue
                    except TimeoutError:
                        pass
            last = status
            yield health_pb2.HealthCheckResponse(status=status)
