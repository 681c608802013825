"""gRPC method handlers built from service descriptors, with error translation in one place.

Every Prizm server registers its services here: method names and message
types come from the descriptor, and every handler turns a `PrizmError` into
its rich status, passes a downstream call's status through unchanged, and
turns anything else into a generic INTERNAL with a correlation id, keeping the
detail in the server log only.

Requests are decoded here too, never by gRPC: bytes that do not decode, or a
message over `MAX_MESSAGE_BYTES`, become INVALID_ARGUMENT (`MALFORMED_REQUEST`,
`INPUT_TOO_LARGE`) with one rate-limited log line, where gRPC would answer
UNKNOWN and log a traceback per request.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from prizm_core.channels import MAX_MESSAGE_BYTES, MAX_METADATA_BYTES
from prizm_core.errors import PrizmError, Reason, invalid_argument
from prizm_core.telemetry.log_context import unsent_request_id

__all__ = ["add_service", "internal_error", "method_path", "refuse"]

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]
# The messages of a client stream.
Requests = AsyncIterable[Any]


@dataclass(frozen=True)
class _Refused:
    """A request message that could not be read, in place of the message."""

    reason: Reason
    problem: str

    def error(self) -> PrizmError:
        return invalid_argument([("request", self.problem)], self.reason)


def _reader(request_cls: Any) -> Callable[[bytes], Any]:
    """Decodes a request message; bytes that are not one become a `_Refused`, never an exception."""

    def read(raw: bytes) -> Any:
        if len(raw) > MAX_MESSAGE_BYTES:
            return _Refused(
                Reason.INPUT_TOO_LARGE,
                f"a message of {len(raw)} bytes is over the {MAX_MESSAGE_BYTES} byte limit; "
                "send large inputs by reference (AssetService.UploadAsset, then its prizm-asset:// URI)",
            )
        try:
            return request_cls.FromString(raw)
        except Exception:  # any failure to decode is the caller's bytes, not our fault
            return _Refused(
                Reason.MALFORMED_REQUEST, f"the bytes are not a valid {request_cls.DESCRIPTOR.full_name}"
            )

    return read


def _refuse(method: str, refused: _Refused, context: Context) -> PrizmError:
    log.warning(
        "refused a %s request to %s from %s: %s", refused.reason, method, context.peer(), refused.problem
    )
    return refused.error()


_ENTRY_OVERHEAD = 32  # what HTTP/2 (RFC 7541, 4.1) counts for each header field besides its bytes


def _check_metadata(method: str, context: Context) -> None:
    """Refuses a request whose metadata is over `MAX_METADATA_BYTES`, the same way every time."""
    entries = context.invocation_metadata() or ()
    size = sum(len(key) + len(value) + _ENTRY_OVERHEAD for key, value in entries)
    if size > MAX_METADATA_BYTES:
        log.warning("refused a request to %s from %s: %d bytes of metadata", method, context.peer(), size)
        raise PrizmError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            Reason.METADATA_TOO_LARGE,
            f"the request's metadata is {size} bytes in {len(entries)} entries, counted as HTTP/2 does; "
            f"the limit is {MAX_METADATA_BYTES}",
        )


async def _checked(method: str, requests: Requests, context: Context) -> AsyncIterator[Any]:
    """The messages of a client stream, failing at the first one that could not be read."""
    async for request in requests:
        if isinstance(request, _Refused):
            raise _refuse(method, request, context)
        yield request


def internal_error(where: str, exc: BaseException) -> PrizmError:
    """Logs an unexpected exception with a fresh correlation id and returns the generic error."""
    correlation_id = uuid.uuid4().hex[:16]
    log.error("unexpected error in %s (correlation id %s)", where, correlation_id, exc_info=exc)
    return PrizmError(
        grpc.StatusCode.INTERNAL,
        Reason.INTERNAL_ERROR,
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


async def refuse(context: Context, status: grpc.Status) -> NoReturn:
    """Ends the call with `status`, and with its request id when the caller has not had it yet."""
    await context.abort(status.code, status.details, (*status.trailing_metadata, *unsent_request_id()))
    raise AssertionError("unreachable")  # pragma: no cover - abort always raises


async def _fail(context: Context, method: str, exc: Exception) -> NoReturn:
    if isinstance(exc, PrizmError):
        await refuse(context, exc.to_status())
    if isinstance(exc, grpc.aio.AioRpcError):
        # A downstream status passes through as it came: code, message and details.
        trailing = (*tuple(exc.trailing_metadata() or ()), *unsent_request_id())
        await context.abort(exc.code(), exc.details() or "", trailing)
    await refuse(context, internal_error(method, exc).to_status())


def _guard_unary(method: str, behavior: UnaryBehavior, client_streaming: bool = False) -> UnaryBehavior:
    async def handler(request: Any, context: Context) -> Any:
        try:
            _check_metadata(method, context)
            if client_streaming:
                request = _checked(method, request, context)
            elif isinstance(request, _Refused):
                raise _refuse(method, request, context)
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, method, exc)

    return handler


def _guard_stream(method: str, behavior: StreamBehavior, client_streaming: bool = False) -> StreamBehavior:
    async def handler(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            _check_metadata(method, context)
            if client_streaming:
                request = _checked(method, request, context)
            elif isinstance(request, _Refused):
                raise _refuse(method, request, context)
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
    name = method.full_name
    read = _reader(message_factory.GetMessageClass(method.input_type))
    response_cls = message_factory.GetMessageClass(method.output_type)
    serializer = None if raw_response else response_cls.SerializeToString
    behavior = getattr(impl, method.name)
    streaming = method.client_streaming
    if method.server_streaming:
        make = grpc.stream_stream_rpc_method_handler if streaming else grpc.unary_stream_rpc_method_handler
        return make(
            _guard_stream(name, behavior, streaming),
            request_deserializer=read,
            response_serializer=serializer,
        )
    make = grpc.stream_unary_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
    return make(
        _guard_unary(name, behavior, streaming), request_deserializer=read, response_serializer=serializer
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
