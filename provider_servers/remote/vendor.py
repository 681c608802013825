"""Who a remote provider talks to: a vendor's name, key and base-URL variables, and auth header."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Vendor"]


@dataclass(frozen=True)
class Vendor:
    """A hosted API and how to authenticate to it.

    Attributes:
        name: Short lower-case name, e.g. `openai`; shown in errors and logs.
        key_env: The environment variable holding the key, the vendor's own name for it
            (`OPENAI_API_KEY`).
        base_url_env: The environment variable that overrides the base URL (`OPENAI_BASE_URL`),
            for gateways, proxies and tests.
        default_base_url: The vendor's documented base URL.
        auth_header: The header the key travels in.
        auth_scheme: The word before the key (`Bearer`, fal's `Key`); empty for a bare key.
    """

    name: str
    key_env: str
    base_url_env: str
    default_base_url: str
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"

    def auth_value(self, api_key: str) -> str:
        """The auth header's value for `api_key`."""
        return f"{self.auth_scheme} {api_key}" if self.auth_scheme else api_key
