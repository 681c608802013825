"""Synthetic: a provider for tests and benchmarks with a configurable pace, event count and output size."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Self

import grpc

from prizm_core import __version__
from prizm_core.errors import PrizmError, Reason, invalid_argument, unknown_settings
from provider_servers.sdk import (
    Capability,
    Event,
    Job,
    MediaKind,
    MediaUnit,
    ModelSpec,
    Output,
    Param,
    Progress,
    Provider,
    ProviderKind,
)

__all__ = ["SyntheticProvider", "synthetic_output"]

_PIECE_BYTES = 1024 * 1024

MODEL = ModelSpec(
    id="synthetic-v1",
    display_name="Synthetic text generator",
    description=(
        "Not a model: repeats the input text up to `output_bytes`, after `events` progress "
        "events `interval_ms` apart. Built to test and benchmark the mesh."
    ),
    capabilities=(Capability.TEXT_TO_TEXT,),
    parameters=(
        Param(
            "events", "integer", "Progress events before the output.", default=10, minimum=0, maximum=100_000
        ),
        Param(
            "interval_ms", "number", "Pause before each event.", default=0.0, minimum=0.0, maximum=600_000.0
        ),
        Param("output_bytes", "integer", "Size of the output.", default=1024, minimum=0, maximum=2**34),
        Param(
            "echo_metadata",
            "boolean",
            "List the caller metadata it received in the first event's logs.",
            default=False,
        ),
    ),
    prices={MediaUnit.REQUEST: 0.0},
    input_mime_types=("text/plain",),
    output_mime_type="text/plain; charset=utf-8",
)


def synthetic_output(seed: bytes, size: int) -> bytes:
    """The output for input `seed` and `size`: the seed repeated and cut to `size` bytes."""
    seed = seed or b"."
    return (seed * (size // len(seed) + 1))[:size]


async def _pieces(seed: bytes, size: int) -> AsyncIterator[bytes]:
    block = synthetic_output(seed, _PIECE_BYTES + len(seed))
    sent = 0
    while sent < size:
        # Each piece starts where the repetition left off, so the whole equals synthetic_output.
        offset = sent % len(seed)
        piece = block[offset : offset + min(_PIECE_BYTES, size - sent)]
        sent += len(piece)
        yield piece
        await asyncio.sleep(0)


def _deadline(job: Job) -> str:
    if job.deadline is None:
        return "no deadline"
    return f"deadline at {job.deadline:.3f} (in {job.deadline - time.time():.3f} s)"


class SyntheticProvider(Provider):
    """Deterministic output and progress at a set pace, for tests and benchmarks.

    Its faults and price are set at run time with `Configure`: `refuse` (a
    status code name, or empty) refuses every job before its first event;
    `fail_with` (a message, or empty) makes every job raise an unexpected
    exception after its first progress event; `block_loop_s` blocks its event
    loop that long once, as a stuck synchronous call would; `price_per_request`
    sets its price in USD. Its "service" is simulated: StopService turns it
    NOT_SERVING and StartService back, as a container provider would.
    """

    id = "synthetic"
    display_name = "Synthetic"
    kind = ProviderKind.LOCAL
    version = __version__
    description = "A test and benchmark provider: deterministic text out at a configurable pace."
    max_concurrent_jobs = 0

    def __init__(self, provider_id: str = "synthetic", max_events: int | None = None) -> None:
        self.id = provider_id
        self._refuse: grpc.StatusCode | None = None
        self._fail_with = ""
        self._model = MODEL
        if max_events is not None:
            # A narrower schema than the default: for tests of routing by options.
            narrowed = tuple(
                dataclasses.replace(p, maximum=max_events) if p.name == "events" else p
                for p in MODEL.parameters
            )
            self._model = dataclasses.replace(MODEL, parameters=narrowed)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """`PRIZM_SYNTHETIC_ID` renames it, to stand in for several different providers;
        `PRIZM_SYNTHETIC_MAX_EVENTS` lowers the `events` option's maximum, to give it another schema."""
        most = environ.get("PRIZM_SYNTHETIC_MAX_EVENTS", "")
        return cls(environ.get("PRIZM_SYNTHETIC_ID", "synthetic"), int(most) if most else None)

    @property
    def managed_service(self) -> bool:
        """The simulated service can be stopped and started."""
        return True

    async def stop_service(self) -> None:
        """Nothing to stop: the harness turns the provider NOT_SERVING."""

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Sets `refuse`, `fail_with`, `block_loop_s` and `price_per_request`; refuses anything else."""
        unknown = set(settings) - {"refuse", "fail_with", "block_loop_s", "price_per_request"}
        if unknown:
            raise unknown_settings(unknown)
        refuse = settings.get("refuse", self._refuse.name if self._refuse else "").strip().upper()
        if refuse and refuse not in grpc.StatusCode.__members__:
            raise invalid_argument([("settings.refuse", f"not a status code: {refuse}")])
        numbers = {}
        for name in ("block_loop_s", "price_per_request"):
            try:
                numbers[name] = float(settings.get(name, "0"))
            except ValueError:
                raise invalid_argument([(f"settings.{name}", "must be a number")]) from None
        self._refuse = grpc.StatusCode[refuse] if refuse else None
        self._fail_with = settings.get("fail_with", self._fail_with)
        if "price_per_request" in settings:
            prices = {MediaUnit.REQUEST: numbers["price_per_request"]}
            self._model = dataclasses.replace(self._model, prices=prices)
        if numbers["block_loop_s"]:
            time.sleep(numbers["block_loop_s"])  # the fault: nothing else runs meanwhile
        return sorted(settings)

    def admit(self, job: Job) -> None:
        """Refuses the job when `refuse` is set."""
        if self._refuse is not None:
            raise PrizmError(
                self._refuse, Reason.REFUSED_ON_PURPOSE, f"configured to refuse with {self._refuse.name}"
            )

    def models(self) -> Sequence[ModelSpec]:
        """The one synthetic model, at its configured price."""
        return [self._model]

    def measure(self, job: Job) -> Mapping[MediaUnit, float]:
        """One request."""
        return {MediaUnit.REQUEST: 1.0}

    async def transform(self, job: Job) -> AsyncIterator[Event]:
        """Sleeps and reports `events` times, then streams the output."""
        events, size = int(job.options["events"]), int(job.options["output_bytes"])
        interval = float(job.options["interval_ms"]) / 1000.0
        echoed = (
            tuple(f"{k}={v!r}" for k, v in sorted(job.metadata.items()))
            if job.options["echo_metadata"]
            else ()
        )
        for done in range(1, events + 1):
            if interval:
                await asyncio.sleep(interval)
            yield Progress(
                fraction=done / events,
                stage="synthetic",
                message=f"event {done}/{events}; {_deadline(job)}",
                logs=echoed if done == 1 else (),
            )
            if self._fail_with:
                raise RuntimeError(self._fail_with)
        seed = job.inputs[0].read() or b"."
        yield Output(
            kind=MediaKind.TEXT,
            mime_type="text/plain; charset=utf-8",
            data=_pieces(seed, size),
            metadata={"output_bytes": str(size)},
        )
