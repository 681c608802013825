"""gRPC metrics under go-grpc-prometheus's names: a server interceptor, and the router's calls out.

The server side wraps each registered method's behaviour, so it counts exactly what the handler
answers: Prizm's handlers abort with rich statuses (`context.code()` then holds the code), a
caller that leaves cancels the handler (`Canceled`, or `DeadlineExceeded` when its deadline is
what ended it), and an exception gRPC itself would answer is `Unknown`. Calls to methods the
server does not have are not counted: their names are the caller's, not the server's.

The client side counts the router's calls to providers: each job attempt's `Transform` stream
(`counted_stream`) and `EstimateCost` (`counted_unary`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from prizm_core.telemetry.metrics import GrpcMetrics, code_name

__all__ = ["ServerMetricsInterceptor", "counted_stream", "counted_unary", "rpc_labels"]

Context = grpc.aio.ServicerContext[Any, Any]
Labels = tuple[str, str, str]
T = TypeVar("T")


def rpc_labels(path: str, grpc_type: str) -> Labels:
    """`("server_stream", "prizm.v1.ModelService", "Transform")` from `/prizm.v1.ModelService/Transform`."""
    service, _, method = path.lstrip("/").rpartition("/")
    return grpc_type, service, method


def _grpc_type(handler: grpc.RpcMethodHandler[Any, Any]) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def _server_code(exc: BaseException, context: Context) -> str:
    """The status a call that raised `exc` ends with."""
    if isinstance(exc, grpc.aio.AbortError):
        return code_name(context.code() or grpc.StatusCode.UNKNOWN)
    if isinstance(exc, asyncio.CancelledError):
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return "DeadlineExceeded" if expired else "Canceled"
    return "Unknown"  # what gRPC answers for an exception that escapes a handler


class _Rpc:
    """One server RPC's counts: started now; `done` records its status and time."""

    def __init__(self, metrics: GrpcMetrics, labels: Labels) -> None:
        self.started_at = time.monotonic()
        self.labels = labels
        self.started, self.handled, self.seconds, self.received, self.sent = metrics.server
        self.started.labels(*labels).inc()

    def done(self, code: str) -> None:
        self.handled.labels(*self.labels, code).inc()
        self.seconds.labels(*self.labels).observe(time.monotonic() - self.started_at)

    def ended(self, context: Context) -> None:
        """A behaviour returned: the status it set, if any, else OK."""
        self.done(code_name(context.code() or grpc.StatusCode.OK))

    async def counted(self, requests: AsyncIterable[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            self.received.labels(*self.labels).inc()
            yield request


class ServerMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC a server handles (started, handled by code, latency, messages)."""

    def __init__(self, metrics: GrpcMetrics) -> None:
        """Args:
        metrics: The families to count into (a process's `ProcessMetrics.grpc`).
        """
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Wraps the method's behaviour; an unknown method passes through uncounted."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        labels = rpc_labels(handler_call_details.method, _grpc_type(handler))
        make = {
            "unary": grpc.unary_unary_rpc_method_handler,
            "client_stream": grpc.stream_unary_rpc_method_handler,
            "server_stream": grpc.unary_stream_rpc_method_handler,
            "bidi_stream": grpc.stream_stream_rpc_method_handler,
        }[labels[0]]
        behavior = (
            handler.unary_unary or handler.stream_unary or handler.unary_stream or handler.stream_stream
        )
        wrap = self._streaming if handler.response_streaming else self._unary
        return make(
            wrap(behavior, labels, handler.request_streaming),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary(self, behavior: Any, labels: Labels, client_streaming: bool) -> Any:
        async def call(request: Any, context: Context) -> Any:
            rpc = _Rpc(self.metrics, labels)
            if client_streaming:
                request = rpc.counted(request)
            else:
                rpc.received.labels(*labels).inc()
            try:
                response = await behavior(request, context)
            except BaseException as exc:
                rpc.done(_server_code(exc, context))
                raise
            rpc.sent.labels(*labels).inc()
            rpc.ended(context)
            return response

        return call

    def _streaming(self, behavior: Any, labels: Labels, client_streaming: bool) -> Any:
        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            rpc = _Rpc(self.metrics, labels)
            if client_streaming:
                request = rpc.counted(request)
            else:
                rpc.received.labels(*labels).inc()
            try:
                async for response in behavior(request, context):
                    rpc.sent.labels(*labels).inc()
                    yield response
            except BaseException as exc:
                rpc.done("Canceled" if isinstance(exc, GeneratorExit) else _server_code(exc, context))
                raise
            rpc.ended(context)

        return call


async def counted_stream(
    metrics: GrpcMetrics, path: str, messages: AsyncIterator[T]
) -> AsyncGenerator[T, None]:
    """The messages of a server-streaming call the router made, counted as a client RPC.

    Ends `Canceled` when the consumer leaves early (or the stream is cut off), else with the
    call's own code (`AioRpcError`), else OK.
    """
    labels = rpc_labels(path, "server_stream")
    started_total, handled, seconds, received, sent = metrics.client
    started_total.labels(*labels).inc()
    sent.labels(*labels).inc()
    started, code = time.monotonic(), "Canceled"
    try:
        async for message in messages:
            received.labels(*labels).inc()
            yield message
        code = "OK"
    except grpc.aio.AioRpcError as exc:
        code = code_name(exc.code())
        raise
    finally:
        handled.labels(*labels, code).inc()
        seconds.labels(*labels).observe(time.monotonic() - started)
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()


async def counted_unary(metrics: GrpcMetrics, path: str, call: Awaitable[T]) -> T:
    """Awaits a unary call the router made, counted as a client RPC."""
    labels = rpc_labels(path, "unary")
    started_total, handled, seconds, received, sent = metrics.client
    started_total.labels(*labels).inc()
    sent.labels(*labels).inc()
    started, code = time.monotonic(), "Canceled"
    try:
        answer = await call
        received.labels(*labels).inc()
        code = "OK"
        return answer
    except grpc.aio.AioRpcError as exc:
        code = code_name(exc.code())
        raise
    finally:
        handled.labels(*labels, code).inc()
        seconds.labels(*labels).observe(time.monotonic() - started)
