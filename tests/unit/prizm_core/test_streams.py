"""read_apart: every message, the call's error, and a consumer that leaves cancelling the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from prizm_core.streams import _FINISHING, read_apart

METHOD = "/test.Numbers/Count"
Context = grpc.aio.ServicerContext[Any, Any]
Served = tuple["Numbers", grpc.aio.Channel]


class Numbers:
    """A server stream of `count` numbered messages, `pause_s` apart, failing after them when asked."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def count(self, request: bytes, context: Context) -> AsyncIterator[bytes]:
        count, pause_ms, fail = (int(part) for part in request.split(b","))
        try:
            for number in range(count):
                yield str(number).encode()
                await asyncio.sleep(pause_ms / 1000)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        if fail:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "no more numbers")


@pytest.fixture
async def numbers() -> AsyncIterator[Served]:
    service = Numbers()
    server = grpc.aio.server()
    handler = grpc.unary_stream_rpc_method_handler(service.count)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Numbers", {"Count": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield service, channel
    await server.stop(None)


def _count(channel: grpc.aio.Channel, count: int, pause_ms: int = 0, fail: int = 0) -> Any:
    return channel.unary_stream(METHOD)(f"{count},{pause_ms},{fail}".encode(), timeout=10)


async def test_yields_every_message_in_order(numbers: Served) -> None:
    _, channel = numbers
    assert [m async for m in read_apart(_count(channel, 50))] == [str(n).encode() for n in range(50)]


async def test_raises_the_calls_error_after_its_messages(numbers: Served) -> None:
    _, channel = numbers
    seen = []
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        async for message in read_apart(_count(channel, 3, fail=1)):
            seen.append(message)
    assert seen == [b"0", b"1", b"2"]
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_a_consumer_cancelled_mid_read_cancels_the_call(
    numbers: Served,
) -> None:
    service, channel = numbers
    call = _count(channel, 1000, pause_ms=50)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in read_apart(call):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    await asyncio.sleep(0.01)  # now waiting on a read the server has not answered yet
    task.cancel()
    await asyncio.wait_for(service.cancelled.wait(), 1)
    assert call.cancelled()
    await asyncio.sleep(0.05)
    assert not _FINISHING, "the read in flight ended once the call was cancelled"


async def test_leaving_early_cancels_the_call(numbers: Served) -> None:
    service, channel = numbers
    call = _count(channel, 1000, pause_ms=20)
    messages = read_apart(call)
    async for message in messages:
        assert message == b"0"
        break
    await messages.aclose()
    await asyncio.wait_for(service.cancelled.wait(), 1)
    assert call.cancelled()


async def test_a_channel_closed_under_the_call_ends_it_with_cancelled(numbers: Served) -> None:
    service, channel = numbers
    messages = read_apart(_count(channel, 1000, pause_ms=20))
    assert await anext(messages) == b"0"
    closing = asyncio.create_task(channel.close())
    async with asyncio.timeout(1):
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async for _ in messages:
                pass
    assert ended.value.code() == grpc.StatusCode.CANCELLED
    await closing
    async with asyncio.timeout(1):
        await service.cancelled.wait()
