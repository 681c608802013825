"""Leases of self-registered providers: lengths, renewal, release and the reaper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from prizm_core.router.leases import Leases

# The reaper looks every 0.5 s; an expired lease is handed over within about that.
REAPED_WITHIN_S = 1.5


class Expired:
    """Records the addresses whose leases ran out, as the router's retirement would."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.changed = asyncio.Event()

    def __call__(self, address: str) -> None:
        self.addresses.append(address)
        self.changed.set()

    async def wait(self) -> None:
        async with asyncio.timeout(REAPED_WITHIN_S):
            await self.changed.wait()


@pytest.fixture
def expired() -> Expired:
    """What the leases hand expired addresses to."""
    return Expired()


@pytest.fixture
async def leases(expired: Expired) -> AsyncIterator[Leases]:
    """Leases of 30 s by default, at most 300 s, whose reaper is stopped after the test."""
    made = Leases(expired, default_s=30.0, max_s=300.0)
    yield made
    await made.close()


async def test_grant_gives_the_default_when_no_length_is_asked(leases: Leases) -> None:
    assert leases.grant("127.0.0.1:1", 0) == 30.0
    assert leases.grant("127.0.0.1:2", -5) == 30.0


async def test_grant_gives_what_is_asked_up_to_the_maximum(leases: Leases) -> None:
    assert leases.grant("127.0.0.1:1", 12.5) == 12.5
    assert leases.grant("127.0.0.1:2", 300.0) == 300.0
    assert leases.grant("127.0.0.1:3", 3_600.0) == 300.0


async def test_release_says_whether_there_was_a_lease(leases: Leases) -> None:
    leases.grant("127.0.0.1:1", 10.0)
    assert leases.release("127.0.0.1:1") is True
    assert leases.release("127.0.0.1:1") is False
    assert leases.release("127.0.0.1:2") is False


async def test_an_expired_lease_is_handed_over_and_renewed_or_released_ones_are_not(
    leases: Leases, expired: Expired
) -> None:
    leases.grant("127.0.0.1:1", 0.05)
    leases.grant("127.0.0.1:2", 0.05)
    leases.grant("127.0.0.1:3", 0.05)
    assert leases.grant("127.0.0.1:2", 30.0) == 30.0  # renewed before it ran out
    assert leases.release("127.0.0.1:3")
    await expired.wait()
    # The reaper's pass over all three leases is over by now.
    assert expired.addresses == ["127.0.0.1:1"]
    assert leases.release("127.0.0.1:1") is False  # reaped
    assert leases.release("127.0.0.1:2") is True  # still held


async def test_the_reaper_keeps_reaping(leases: Leases, expired: Expired) -> None:
    leases.grant("127.0.0.1:1", 0.05)
    await expired.wait()
    expired.changed.clear()
    leases.grant("127.0.0.1:2", 0.05)
    await expired.wait()
    assert expired.addresses == ["127.0.0.1:1", "127.0.0.1:2"]


async def test_close_stops_the_reaper(expired: Expired) -> None:
    leases = Leases(expired)
    leases.grant("127.0.0.1:1", 0.01)
    await leases.close()
    await asyncio.sleep(0.7)  # longer than a reaper period
    assert expired.addresses == []
    assert leases.release("127.0.0.1:1") is True  # never reaped
    await leases.close()  # closing twice is harmless


async def test_a_failed_removal_does_not_stop_later_expiries(expired: Expired) -> None:
    def fails_first(address: str) -> None:
        if address == "127.0.0.1:1":
            raise RuntimeError("removal failed")
        expired(address)

    leases = Leases(fails_first)
    try:
        leases.grant("127.0.0.1:1", 0.05)
        await asyncio.sleep(0.7)  # the reaper handled (and survived) the first
        leases.grant("127.0.0.1:2", 0.05)
        await expired.wait()
        assert expired.addresses == ["127.0.0.1:2"]
    finally:
        await leases.close()


async def test_leases_work_again_after_close(expired: Expired) -> None:
    leases = Leases(expired)
    await leases.close()
    leases.grant("127.0.0.1:3", 0.05)
    try:
        await expired.wait()
        assert expired.addresses == ["127.0.0.1:3"]
    finally:
        await leases.close()
