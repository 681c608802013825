"""A call's handler run as its caller: handler wrappers that set the caller's `Identity`, and refusals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from prizm_core.errors import PrizmError
from prizm_core.handlers import refuse
from prizm_core.security.callers import Identity, set_identity

__all__ = ["Behavior", "Context", "Resolve", "behavior_of", "refusal", "run_as", "with_behavior"]

# How long a refused client stream may take to send its first message (see `_first_sent`).
_FIRST_MESSAGE_WAIT_S = 1.0
Behavior = Callable[[Any, Any], Any]
Context = grpc.aio.ServicerContext[Any, Any]
# Who a call comes from, found once the call runs (a client certificate is known only then);
# raises PrizmError to refuse it.
Resolve = Callable[[Context], Identity]
if TYPE_CHECKING:  # subscriptable in the stubs only
    Handler = grpc.RpcMethodHandler[Any, Any]


def _field(handler: Handler) -> str:
    """The attribute of an `RpcMethodHandler` that holds its behaviour: `unary_stream`, ..."""
    kind = "stream" if handler.response_streaming else "unary"
    return f"{'stream' if handler.request_streaming else 'unary'}_{kind}"


def behavior_of(handler: Handler) -> Behavior:
    """The function a handler runs."""
    behavior: Behavior = getattr(handler, _field(handler))
    return behavior


def with_behavior(handler: Handler, behavior: Behavior) -> Handler:
    """`handler` running `behavior` instead."""
    # RpcMethodHandler is a named tuple at run time; the stubs only declare its fields.
    replaced: Handler = handler._replace(**{_field(handler): behavior})  # type: ignore[attr-defined]
    return replaced


async def _first_sent(requests: AsyncIterable[Any]) -> None:
    """Waits (briefly) for a client stream's first message, read and dropped.

    A grpc-python client still writing its first message when the call ends can report INTERNAL
    "Internal error from Core" instead of the status the server sent; once the first message is in,
    the refusal arrives as it was sent. The wait is short, and the message is dropped unread.
    """
    with contextlib.suppress(Exception):
        await asyncio.wait_for(anext(aiter(requests), None), _FIRST_MESSAGE_WAIT_S)


async def _abort(error: PrizmError, request: Any, context: Context, streamed: bool) -> None:
    if streamed:
        await _first_sent(request)
    await refuse(context, error.to_status())


def refusal(handler: Handler | None, error: PrizmError) -> Handler:
    """A handler of the same kind as `handler` that ends the call with `error`."""
    streamed = handler is not None and handler.request_streaming

    async def unary(request: Any, context: Context) -> Any:
        await _abort(error, request, context, streamed)

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        await _abort(error, request, context, streamed)
        yield None  # pragma: no cover - abort raises

    if handler is None:  # an unknown method: a stranger learns nothing, not even that it is unknown
        return grpc.unary_unary_rpc_method_handler(unary)
    return with_behavior(handler, stream if handler.response_streaming else unary)


async def _identified(resolve: Resolve, request: Any, context: Context, streamed: bool) -> bool:
    """Sets the call's identity; False when `resolve` refused it (the call is aborted then)."""
    try:
        identity = resolve(context)
    except PrizmError as exc:
        await _abort(exc, request, context, streamed)
        return False
    set_identity(identity)
    return True


def run_as(handler: Handler, resolve: Resolve) -> Handler:
    """`handler` run as the caller `resolve` finds (gRPC runs a unary handler in the call's task)."""
    behavior, streamed = behavior_of(handler), handler.request_streaming

    async def unary(request: Any, context: Context) -> Any:
        if await _identified(resolve, request, context, streamed):
            return await behavior(request, context)
        return None  # pragma: no cover - the abort raised

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        # An async generator's body runs in its consumer's context: that of the call's task.
        if await _identified(resolve, request, context, streamed):
            async for item in behavior(request, context):
                yield item

    return with_behavior(handler, stream if handler.response_streaming else unary)
