"""The Python client of a Prizm router: async, with a thin blocking wrapper."""

from prizm_core.client.client import DEFAULT_ROUTER, Conversion, Inputs, PrizmClient, router_address
from prizm_core.client.results import FileSink, JobResult, MemorySink, OutputAsset, OutputSink
from prizm_core.client.sync import SyncPrizmClient

__all__ = [
    "DEFAULT_ROUTER",
    "Conversion",
    "FileSink",
    "Inputs",
    "JobResult",
    "MemorySink",
    "OutputAsset",
    "OutputSink",
    "PrizmClient",
    "SyncPrizmClient",
    "router_address",
]
