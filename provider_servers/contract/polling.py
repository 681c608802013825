"""Waiting for a condition of a server that changes a moment after the call that causes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["wait_until"]


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.01) -> float:
    """Polls `check` until it is true; returns the seconds it took.

    Raises:
        AssertionError: `check` was still false after `timeout` seconds.
    """
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - start
