"""gRPC method handlers built from service descriptors, with error translation in one place.

Every Prizm server registers its services here: method names and message
types come from the descriptor, and every handler turns a `PrizmError` into
its rich status, passes a downstream call's status through unchanged, and
turns anything else into a generic INTERNAL with a correlation id, keeping the
detail in the server log only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any, NoReturn, Protocol

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from prizm_core.errors import PrizmError

__all__ = ["add_service", "internal_error", "method_path"]

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]


def internal_error(where: str, exc: BaseException) -> PrizmError:
    """Logs an unexpected exception with a fresh correlation id and returns the generic error."""
    correlation_id = uuid.uuid4().hex[:16]
    log.error("unexpected error in %s (correlation id %s)", where, correlation_id, exc_info=exc)
    return PrizmError(
        grpc.StatusCode.INTERNAL,
        "INTERNAL_ERROR",
        f"internal error; correlation id {correlation_id}",
        metadata={"correlation_id": correlation_id},
    )


class _Named(Protocol):
    @property
    def full_name(self) -> str: ...


def method_path(method: _Named) -> str:
    """The HTTP/2 path of an RPC from its descriptor: `/package.Service/Method`."""
    service, _, name = method.full_name.rpartition(".")
    return f"/{service}/{name}"


async def _fail(context: Context, method: str, exc: Exception) -> NoReturn:
    if isinstance(exc, PrizmError):
        await context.abort_with_status(exc.to_status())
    if isinstance(exc, grpc.aio.AioRpcError):
        # A downstream status passes through as it came: code, message and details.
        await context.abort(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))
    await context.abort_with_status(internal_error(method, exc).to_status())
    raise AssertionError("unreachable")  # pragma: no cover - abort always raises


def _guard_unary(method: str, behavior: UnaryBehavior) -> UnaryBehavior:
    async def handler(request: Any, context: Context) -> Any:
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, method, exc)

    return handler


def _guard_stream(method: str, behavior: StreamBehavior) -> StreamBehavior:
    async def handler(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            async for item in behavior(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, method, exc)

    return handler


def _method_handler(
    method: MethodDescriptor, impl: object, raw_response: bool
) -> grpc.RpcMethodHandler[Any, Any]:
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    serializer = None if raw_response else response_cls.SerializeToString
    behavior = getattr(impl, method.name)
    if method.client_streaming and method.server_streaming:
        raise ValueError(f"bidirectional methods are not supported: {method.full_name}")
    if method.client_streaming:
        return grpc.stream_unary_rpc_method_handler(
            _guard_unary(method.full_name, behavior),
            request_deserializer=request_cls.FromString,
            response_serializer=serializer,
        )
    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _guard_stream(method.full_name, behavior),
            request_deserializer=request_cls.FromString,
            response_serializer=serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        _guard_unary(method.full_name, behavior),
        request_deserializer=request_cls.FromString,
        response_serializer=serializer,
    )


def add_service(
    server: grpc.aio.Server,
    service: ServiceDescriptor,
    impl: object,
    *,
    raw_responses: Collection[str] = (),
) -> None:
    """Registers `impl`'s coroutine methods, one per RPC of `service`, on `server`.

    Args:
        server: The server, not yet started.
        service: The service's descriptor, e.g. `model_pb.DESCRIPTOR.services_by_name[...]`.
        impl: An object with one method per RPC, named as the RPC.
        raw_responses: RPCs whose behaviour yields already-serialized bytes.
    """
    handlers = {
        method.name: _method_handler(method, impl, method.name in raw_responses) for method in service.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
