"""The server interceptors of observability: each call's log scope and request id, then its span.

They go first in a server's interceptor list, in this order, so a call refused by a later one
(metrics, auth) is still logged with its request id and traced. Both wrap the behaviour of the
handler the next interceptor returns, keeping its kind and (de)serializers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeAlias

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from prizm_core.telemetry import tracing
from prizm_core.telemetry.log_context import begin_request, echo_request_id
from prizm_core.telemetry.tracing import TracingSettings

__all__ = ["RequestContextInterceptor", "TracingInterceptor", "observability_interceptors"]

Context = grpc.aio.ServicerContext[Any, Any]
# Strings: grpc's runtime classes are not generic, its stubs are.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]"
Wrapper = Callable[[Any, bool], Any]

# Health checks (several a second from every router) and reflection: no job's, and a root span
# and an extra header per check would be all cost.
_UNOBSERVED = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_MAKERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
_BEHAVIORS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}


def _rewrapped(handler: Handler, wrap: Wrapper) -> Handler:
    """`handler` with its behaviour replaced by `wrap(behaviour, response_streaming)`."""
    kind = (handler.request_streaming, handler.response_streaming)
    behavior = getattr(handler, _BEHAVIORS[kind])
    make: Any = _MAKERS[kind]
    return make(  # type: ignore[no-any-return]
        wrap(behavior, handler.response_streaming),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _metadata(context: Context) -> tuple[tuple[str, str | bytes], ...]:
    return tuple((key, value) for key, value in context.invocation_metadata() or ())


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    """Opens each call's log scope (request id, caller's trace id) and echoes its `x-request-id`.

    The request id goes back in the response's initial metadata: at once for unary responses,
    before the first message of a stream unless the handler sent its own initial metadata with
    `echo_request_id()` in it (the router's Transform does, beside the job id). Health checks and
    reflection are left alone.
    """

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """Wraps the next handler's behaviour."""
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_UNOBSERVED):
            return handler
        return _rewrapped(handler, self._wrap)

    @staticmethod
    def _wrap(behavior: Any, streaming: bool) -> Any:
        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                scope = begin_request(_metadata(context))
                async for message in behavior(request, context):
                    if not scope.echoed:
                        await context.send_initial_metadata(echo_request_id())
                    yield message

            return stream

        async def unary(request: Any, context: Context) -> Any:
            begin_request(_metadata(context))
            await context.send_initial_metadata(echo_request_id())
            return await behavior(request, context)

        return unary


def _status(context: Context, error: BaseException | None) -> grpc.StatusCode:
    """How a call ended: the code its handler aborted with, else cancelled when the caller left
    (the handler then sees CancelledError, or GeneratorExit when its stream is closed), else OK or,
    for any other exception, UNKNOWN (what gRPC answers)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(error, asyncio.CancelledError | GeneratorExit) or context.cancelled():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN


class TracingInterceptor(grpc.aio.ServerInterceptor):
    """A SERVER span per call, named `package.Service/Method`, the child of the caller's
    `traceparent`; it ends with `rpc.grpc.status_code` and `prizm.outcome`. Health checks and
    reflection are not traced."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """Wraps the next handler's behaviour in a span."""
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_UNOBSERVED):
            return handler
        name = handler_call_details.method.lstrip("/")
        return _rewrapped(handler, lambda behavior, streaming: self._traced(name, behavior, streaming))

    def _traced(self, name: str, behavior: Any, streaming: bool) -> Any:
        """`behavior` run inside a SERVER span named `name`."""
        service, _, method = name.partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        tracer = self.tracer

        def start(context: Context) -> trace.Span:
            tracing.set_active_tracer(tracer)
            parent = propagate.extract(_carrier(context))
            return tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes)

        if streaming:

            async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
                span, error = start(context), None
                # Made current for good, not in a `with`: a stream the caller left may be closed
                # from another context, where detaching fails. Each call runs in a task (and so a
                # context) of its own, which ends with it.
                otel_context.attach(trace.set_span_in_context(span))
                try:
                    async for message in behavior(request, context):
                        yield message
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    _end(span, _status(context, error))

            return stream

        async def unary(request: Any, context: Context) -> Any:
            span, error = start(context), None
            try:
                with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                    return await behavior(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                _end(span, _status(context, error))

        return unary


def _carrier(context: Context) -> dict[str, str]:
    """The text metadata a propagator reads (`traceparent`, `tracestate`, `baggage`)."""
    return {key: value for key, value in _metadata(context) if isinstance(value, str)}


def _end(span: trace.Span, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    span.set_attribute("prizm.outcome", tracing.outcome_of(code))
    if code != grpc.StatusCode.OK:
        span.set_status(trace.StatusCode.ERROR, code.name)
    span.end()


def observability_interceptors(
    settings: TracingSettings, service_name: str, environ: Mapping[str, str]
) -> list[grpc.aio.ServerInterceptor]:
    """The request-context interceptor, then tracing's when it is on: the head of a server's list."""
    tracer = tracing.tracer_for(settings, service_name, environ)
    context: list[grpc.aio.ServerInterceptor] = [RequestContextInterceptor()]
    return context if tracer is None else [*context, TracingInterceptor(tracer)]
