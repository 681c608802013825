"""The provider inside a container provider: the one that maps `ModelService` onto the container's API.

A manifest's `adapter.kind` picks it: `cog` (any Cog model), `http` (an `http_api` YAML file whose
base URL becomes the container's) or `provider` (an installed `prizm.providers` entry point that
reads the container's URL from `PRIZM_SERVICE_URL`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import cast

from prizm_core.capabilities import capability_by_name
from prizm_core.services.manifest import ServiceManifest
from provider_servers.cog.provider import CogProvider
from provider_servers.http_api.provider import CONFIG_ENV, HttpApiProvider
from provider_servers.sdk import Capability, Provider

__all__ = ["SERVICE_URL_ENV", "adapter_class", "build_adapter", "reread"]

PROVIDER_GROUP = "prizm.providers"
SERVICE_URL_ENV = "PRIZM_SERVICE_URL"


def _entry_point(name: str) -> type[Provider]:
    found = entry_points(group=PROVIDER_GROUP, name=name)
    if not found:
        raise LookupError(f"no provider entry point {name!r} is installed (group {PROVIDER_GROUP})")
    return cast("type[Provider]", next(iter(found)).load())


def adapter_class(manifest: ServiceManifest) -> type[Provider]:
    """The class of the adapter the manifest names, known before its container runs.

    Raises:
        LookupError: The manifest names a provider entry point that is not installed.
    """
    adapter = manifest.adapter
    if adapter.kind == "provider":
        return _entry_point(adapter.entry_point or "")
    builtin: dict[str, type[Provider]] = {"cog": CogProvider, "http": HttpApiProvider}
    return builtin[adapter.kind]


def _cog(manifest: ServiceManifest, url: str) -> Provider:
    capabilities = [Capability(capability_by_name(name).value) for name in manifest.capabilities]
    return CogProvider(base_url=url, provider_id=manifest.name, capabilities=capabilities)


def _http(manifest: ServiceManifest, url: str) -> Provider:
    config = manifest.directory / (manifest.adapter.config or "")
    provider = HttpApiProvider.from_environment({CONFIG_ENV: str(config)})
    # The file's base URL points nowhere in particular: its calls go to this container.
    provider.configure({"base_url": url})
    return provider


def _entry_point_provider(manifest: ServiceManifest, url: str) -> Provider:
    provider_cls = _entry_point(manifest.adapter.entry_point or "")
    environ: Mapping[str, str] = {**os.environ, SERVICE_URL_ENV: url}
    return provider_cls.from_environment(environ)


_BUILDERS: dict[str, Callable[[ServiceManifest, str], Provider]] = {
    "cog": _cog,
    "http": _http,
    "provider": _entry_point_provider,
}


def build_adapter(manifest: ServiceManifest, url: str) -> Provider:
    """The adapter the manifest names, bound to the container at `url` (not yet warmed up).

    Raises:
        LookupError: The manifest names a provider entry point that is not installed.
        ValueError: The adapter's own config cannot be read or is not valid.
    """
    return _BUILDERS[manifest.adapter.kind](manifest, url)


async def reread(adapter: Provider) -> None:
    """Reads again what the adapter learns from the service, once the service is ready: a Cog
    server serves its schema only after the model's setup, which ends after the container is up.

    Raises:
        PrizmError: The service cannot be reached, or its schema cannot be used.
    """
    if isinstance(adapter, CogProvider):
        await adapter.refresh()
