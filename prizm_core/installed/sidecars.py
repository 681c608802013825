"""Added providers as the router's sidecars: packages from their own environments, services in containers."""

from __future__ import annotations

import dataclasses

from prizm_core.config import SERVICE_MANIFEST_ENV, RouterConfig, SidecarSpec
from prizm_core.installed.store import Installed

__all__ = ["CONTAINER_PROVIDER", "installed_sidecars", "with_installed"]

# The provider that owns one service's container (provider_servers/container).
CONTAINER_PROVIDER = "container"


def installed_sidecars(entries: tuple[Installed, ...]) -> list[SidecarSpec]:
    """One sidecar per provider an added package provides, and one per added service."""
    sidecars: list[SidecarSpec] = []
    for entry in entries:
        if entry.manifest is not None:
            manifest = ((SERVICE_MANIFEST_ENV, str(entry.manifest)),)
            sidecars.append(SidecarSpec(provider=CONTAINER_PROVIDER, env=manifest, label=entry.name))
        else:
            python = str(entry.python)
            sidecars += [SidecarSpec(provider=name, python=python) for name in entry.provides]
    return sidecars


def _same(listed: SidecarSpec, added: SidecarSpec) -> bool:
    """Whether the config already lists the sidecar (a package's provider, or the same manifest)."""
    if added.provider == CONTAINER_PROVIDER:
        manifest = dict(added.env)[SERVICE_MANIFEST_ENV]
        return (
            listed.provider == CONTAINER_PROVIDER and dict(listed.env).get(SERVICE_MANIFEST_ENV) == manifest
        )
    return listed.provider == added.provider


def with_installed(config: RouterConfig, entries: tuple[Installed, ...]) -> RouterConfig:
    """`config` with every added provider among its sidecars.

    A provider the config lists itself keeps the config's settings (priority, replicas, args) and
    is run from its environment; the others are added with the defaults.

    Args:
        config: The router's config as read.
        entries: The registry's entries.

    Returns:
        The config to run.
    """
    sidecars = list(config.sidecars)
    for added in installed_sidecars(entries):
        listed = [i for i, spec in enumerate(sidecars) if _same(spec, added)]
        for i in listed:
            sidecars[i] = dataclasses.replace(sidecars[i], python=sidecars[i].python or added.python)
        if not listed:
            sidecars.append(added)
    return dataclasses.replace(config, sidecars=tuple(sidecars))
