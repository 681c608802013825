"""fal (fal.ai): its queue API as a Prizm provider, and `FakeFal`, a test double of that API."""

from provider_servers.fal.provider import FAL, FalProvider

__all__ = ["FAL", "FalProvider"]
