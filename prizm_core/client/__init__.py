"""The Python client of a Prizm router: async (`PrizmClient`), blocking (`SyncPrizmClient`), typed events."""

from prizm_core.client.client import DEFAULT_ROUTER, DEFAULT_TIMEOUT_S, PrizmClient, router_address
from prizm_core.client.events import (
    Completion,
    Cost,
    Event,
    OutputChunk,
    OutputHeader,
    OutputSummary,
    Progress,
    Provenance,
    UnitAmount,
)
from prizm_core.client.inputs import Input, Inputs
from prizm_core.client.results import (
    Conversion,
    FileSink,
    JobResult,
    MemorySink,
    OutputAsset,
    OutputSink,
)
from prizm_core.client.sync import SyncPrizmClient

__all__ = [
    "DEFAULT_ROUTER",
    "DEFAULT_TIMEOUT_S",
    "Completion",
    "Conversion",
    "Cost",
    "Event",
    "FileSink",
    "Input",
    "Inputs",
    "JobResult",
    "MemorySink",
    "OutputAsset",
    "OutputChunk",
    "OutputHeader",
    "OutputSink",
    "OutputSummary",
    "PrizmClient",
    "Progress",
    "Provenance",
    "SyncPrizmClient",
    "UnitAmount",
    "router_address",
]
