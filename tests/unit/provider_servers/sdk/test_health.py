"""`watch_health`: a provider's health reported on each change, a failing check not the end."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from provider_servers.sdk import Health
from provider_servers.sdk.health import watch_health


class _Scripted:
    """Answers each check with the next of a script, then stays on the last."""

    health_interval_s = 0.001

    def __init__(self, script: list[Health | Exception]) -> None:
        self.script: Iterator[Health | Exception] = iter(script)
        self.last: Health | Exception = Health(True, "ok")
        self.checks = 0

    async def check_health(self) -> Health:
        self.checks += 1
        self.last = next(self.script, self.last)
        if isinstance(self.last, Exception):
            raise self.last
        return self.last


async def test_each_change_is_reported_once_and_a_broken_check_means_not_serving() -> None:
    up, refused = Health(True, "acme answers"), Health(False, "UPSTREAM_AUTH_FAILED: acme refused the key")
    provider = _Scripted([up, up, refused, refused, RuntimeError("boom"), up, up])
    reports: list[Health] = []
    four = asyncio.Event()

    async def report(health: Health) -> None:
        reports.append(health)
        if len(reports) == 4:
            four.set()

    watch = asyncio.create_task(watch_health(provider, report))
    await asyncio.wait_for(four.wait(), 10)
    while provider.checks < 9:  # noqa: ASYNC110 - the checks after the last change, which report nothing
        await asyncio.sleep(0.01)
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    assert reports == [up, refused, Health(False, "health check failed: RuntimeError"), up]


async def test_a_recheck_checks_at_once_instead_of_after_the_interval() -> None:
    provider = _Scripted([Health(False, "refused"), Health(True, "ok")])
    provider.health_interval_s = 3600.0
    recheck = asyncio.Event()
    reports: list[Health] = []
    second = asyncio.Event()

    async def report(health: Health) -> None:
        reports.append(health)
        if len(reports) == 2:
            second.set()

    watch = asyncio.create_task(watch_health(provider, report, recheck))
    await asyncio.sleep(0.05)
    assert reports == [Health(False, "refused")] and provider.checks == 1
    recheck.set()
    await asyncio.wait_for(second.wait(), 10)
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    assert reports == [Health(False, "refused"), Health(True, "ok")]
