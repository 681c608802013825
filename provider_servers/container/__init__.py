"""The container provider: one service's container, from its prizm.service.yml, as a provider."""

from provider_servers.container.provider import MANIFEST_ENV, ContainerProvider

__all__ = ["MANIFEST_ENV", "ContainerProvider"]
