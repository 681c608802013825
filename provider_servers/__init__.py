"""Prizm provider servers: the provider SDK and one package per provider."""

__all__: list[str] = []
