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

from prizm_core.stopping import Trigger

__all__ = ["CutOff", "read_apart"]

_END = object()
_CUT = object()
# Pumps whose read is still finishing after their consumer left; held so none is collected early.
_FINISHING: set[asyncio.Task[None]] = set()


def _closed_under(call: grpc.aio.UnaryStreamCall[Any, Any]) -> grpc.aio.AioRpcError:
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(
        grpc.StatusCode.CANCELLED, empty, empty, "the channel was closed while the call was in flight"
    )


class CutOff(Exception):  # noqa: N818 - what happened, not an error of the stream
    """The reader was told to stop (its server is stopping): the call is cancelled."""


async def read_apart(
    call: grpc.aio.UnaryStreamCall[Any, Any], cut_off: Trigger | None = None
) -> AsyncGenerator[Any, None]:
    """Yields the call's messages; raises its `AioRpcError` if it ends with one.

    Leaving early (break, an exception, the consuming task cancelled) cancels
    the call. At most one message is read ahead, so flow control still holds.
    Once `cut_off` fires, the next wait for a message raises `CutOff` instead.
    """
    slot: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    reading = left = False

    def wake() -> None:
        if slot.empty():
            slot.put_nowait(_CUT)

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
    stop_listening = cut_off.listen(wake) if cut_off is not None else None
    try:
        while (item := await slot.get()) is not _END:
            if item is _CUT or (cut_off is not None and cut_off.fired):
                raise CutOff
            if isinstance(item, grpc.aio.AioRpcError):
                raise item
            yield item
    finally:
        if stop_listening is not None:
            stop_listening()
        left = True
        call.cancel()
        if reading:
            # The read in flight ends by itself now that the call is cancelled.
            _FINISHING.add(task)
            task.add_done_callback(_FINISHING.discard)
        else:
            task.cancel()  # waiting on the slot, not on gRPC: safe to stop
