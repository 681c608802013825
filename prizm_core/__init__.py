"""Prizm's core: the router, the client SDK, the CLI, and shared media types and errors.

The Python client's documented imports: `from prizm_core import PrizmClient, SyncPrizmClient, PrizmError`.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("prizm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from prizm_core.client import PrizmClient, SyncPrizmClient
    from prizm_core.errors import PrizmError

__all__ = ["PrizmClient", "PrizmError", "SyncPrizmClient", "__version__"]

# Loaded on first use, not on `import prizm_core`: importing grpc here would load it before the CLI
# can turn gRPC's fork handlers off (prizm_core/cli/__init__.py), and with them on, tools a
# provider spawns (ffmpeg, espeak-ng) can abort in gRPC's epoll code.
_LAZY = {
    "PrizmClient": "prizm_core.client",
    "SyncPrizmClient": "prizm_core.client",
    "PrizmError": "prizm_core.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prizm_core' has no attribute {name!r}")
