"""The imaging provider: Pillow image edits and a procedural text card (not an AI model)."""

from provider_servers.imaging.provider import ImagingProvider

__all__ = ["ImagingProvider"]
