"""Reading a server stream so that a consumer that goes away never cancels a read in flight.

grpc.aio leaks a batch's native buffers when the task awaiting it is cancelled
(grpc/grpc#43360, open in grpcio 1.85): a router whose callers cancel 2,000
jobs leaked about 2 KiB each. Here the reads run in a task of their own; the
consumer waits on a one-slot queue, and when it leaves, the call is cancelled
and the read in flight ends by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import grpc

__all__ = ["read_apart"]

_END = object()
# Pumps whose read is still finishing after their consumer left; held so none is collected early.
_FINISHING: set[asyncio.Task[None]] = set()


def _closed_under(call: grpc.aio.UnaryStreamCall[Any, Any]) -> grpc.aio.AioRpcError:
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(
        grpc.StatusCode.CANCELLED, empty, empty, "the channel was closed while the call was in flight"
    )


async def read_apart(call: grpc.aio.UnaryStreamCall[Any, Any]) -> AsyncGenerator[Any, None]:
    """Yields the call's messages; raises its `AioRpcError` if it ends with one.

    Leaving early (break, an exception, the consuming task cancelled) cancels
    the call. At most one message is read ahead, so flow control still holds.
    """
    slot: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    reading = left = False

    async def pump() -> None:
        nonlocal reading
        while True:
            reading = True
            try:
                message = await call.read()
            except grpc.aio.AioRpcError as exc:
                item: object = exc
            except asyncio.CancelledError:
                # grpc.aio raises CancelledError from the read of a call cancelled on this side. When
                # the consumer left, that was us; otherwise the channel was closed under the call, and
                # the consumer must hear of it rather than wait forever on the slot.
                task = asyncio.current_task()
                if left or (task is not None and task.cancelling()):
                    raise
                item = _closed_under(call)
            else:
                item = _END if message is grpc.aio.EOF else message
            finally:
                reading = False
            if left:
                return
            await slot.put(item)
            if item is _END or isinstance(item, grpc.aio.AioRpcError):
                return

    task = asyncio.get_running_loop().create_task(pump())
    try:
        while (item := await slot.get()) is not _END:
            if isinstance(item, grpc.aio.AioRpcError):
                raise item
            yield item
    finally:
        left = True
        call.cancel()
        if reading:
            # The read in flight ends by itself now that the call is cancelled.
            _FINISHING.add(task)
            task.add_done_callback(_FINISHING.discard)
        else:
            task.cancel()  # waiting on the slot, not on gRPC: safe to stop
