"""Providers added at run time (`prizm provider add`): their specs, environments and registry."""

from prizm_core.installed.install import add_provider, remove_provider
from prizm_core.installed.sidecars import with_installed
from prizm_core.installed.specs import GitSource, PathSource, PipSource, Source, parse_spec
from prizm_core.installed.store import Installed, InstallError, Origin, Store, prizm_home

__all__ = [
    "GitSource",
    "InstallError",
    "Installed",
    "Origin",
    "PathSource",
    "PipSource",
    "Source",
    "Store",
    "add_provider",
    "parse_spec",
    "prizm_home",
    "remove_provider",
    "with_installed",
]
