"""Replicate: models hosted on Replicate, run as predictions (`pip install prizm`; REPLICATE_API_TOKEN)."""

from provider_servers.replicate.provider import REPLICATE, ReplicateProvider

__all__ = ["REPLICATE", "ReplicateProvider"]
