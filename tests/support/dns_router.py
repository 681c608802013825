"""A router whose DNS answers come from a file, for tests of DNS discovery on one loopback address.

Kubernetes gives each replica of a headless Service its own IP; on loopback the
replicas differ by port instead, which a real DNS A record cannot say. So the
answer for every name is read from a file, one `host:port` a line, rewritten by
the test as replicas come and go. Everything else is `prizm router` as it runs:
`python -m tests.support.dns_router CONFIG ANSWERS`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvloop

from prizm_core.config import load_config
from prizm_core.logs import configure_logging
from prizm_core.router import run_router
from prizm_core.router.dns import Resolver
from prizm_core.serving import stop_signal


def file_resolver(answers: Path) -> Resolver:
    """A resolver answering every name with the addresses listed in `answers`."""

    async def resolve(name: str, port: int) -> set[str]:
        text = await asyncio.to_thread(answers.read_text, encoding="utf-8")
        return {line.strip() for line in text.splitlines() if line.strip()}

    return resolve


async def _main(config: Path, answers: Path) -> None:
    await run_router(load_config(config), stop_signal(), file_resolver(answers))


if __name__ == "__main__":
    configure_logging()
    uvloop.run(_main(Path(sys.argv[1]), Path(sys.argv[2])))
