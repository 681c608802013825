"""Security: TLS on every hop (`tls`), the local CA of `prizm certs` (`certs`)."""

__all__: list[str] = []
