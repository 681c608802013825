"""The router: discovery, health, routing and the streaming relay."""

from prizm_core.router.app import run_router
from prizm_core.router.core import Router, RouterSettings

__all__ = ["Router", "RouterSettings", "run_router"]
