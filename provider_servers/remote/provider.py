"""`RemoteProvider`: the base of every provider that calls a hosted API with a key."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import ClassVar, Self

from prizm_core.errors import PrizmError, invalid_argument, unknown_settings
from provider_servers.remote.vendor import Vendor
from provider_servers.remote.vendor_http import VendorHttp
from provider_servers.sdk import Health, Provider, ProviderKind

__all__ = ["RemoteProvider"]

_SETTINGS = ("api_key", "base_url")


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and not any(c.isspace() for c in value)


def _checked_base_url(value: str) -> str:
    if not _is_url(value):
        raise invalid_argument([("settings.base_url", "must be an http:// or https:// URL")])
    return value


class RemoteProvider(Provider):
    """A provider whose models run at a vendor: key and base URL from the environment or
    `Configure`, one `VendorHttp` for every call, and health from a free endpoint of the vendor.

    Subclasses set `vendor`, `health_path` and the usual `Provider` attributes, and call the vendor
    through `self.http`. A subclass with settings of its own overrides `configure`, takes its own
    names out and passes the rest to `super().configure`.

    Attributes:
        vendor: The vendor, its variables and auth header.
        health_path: A free GET endpoint, relative to the base URL (OpenAI's `/models`), asked every
            `health_interval_s` seconds: never a call that costs money.
        api_key: The key (never logged, never echoed).
        base_url: The base URL calls go to.
    """

    kind: ClassVar[ProviderKind] = ProviderKind.REMOTE
    vendor: ClassVar[Vendor]
    health_path: ClassVar[str]
    health_interval_s: ClassVar[float] = 30.0
    # The work is the vendor's: a remote provider mostly waits, and takes many jobs at once.
    max_concurrent_jobs: ClassVar[int] = 32

    def __init__(self, api_key: str, base_url: str = "") -> None:
        """Builds the provider; nothing is sent until `warm_up`.

        Args:
            api_key: The vendor key.
            base_url: The base URL; the vendor's default when empty.
        """
        self.api_key = api_key
        self.base_url = _checked_base_url(base_url or self.vendor.default_base_url)
        self._http: VendorHttp | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """The provider with its key from `vendor.key_env` and base URL from `vendor.base_url_env`."""
        return cls(environ.get(cls.vendor.key_env, ""), environ.get(cls.vendor.base_url_env, ""))

    @classmethod
    def missing(cls) -> list[str]:
        """The key's variable when it is not set, and the base URL's when it is not a URL: the
        harness then refuses to start, with these hints."""
        found = []
        if not os.environ.get(cls.vendor.key_env, "").strip():
            found.append(f"set {cls.vendor.key_env} to use {cls.vendor.name}")
        base_url = os.environ.get(cls.vendor.base_url_env, "")
        if base_url and not _is_url(base_url):
            found.append(f"{cls.vendor.base_url_env} must be an http:// or https:// URL")
        return found

    @property
    def http(self) -> VendorHttp:
        """The vendor's HTTP client, open from `warm_up` to `close`."""
        if self._http is None:
            self._http = VendorHttp(self.vendor, self.api_key, self.base_url)
        return self._http

    async def warm_up(self) -> None:
        """Opens the HTTP client; the first health check then decides whether the provider serves."""
        # httpx logs every request with its full URL at INFO: a poll each second would flood the
        # log, and a signed download URL is a credential for what it points at.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        _ = self.http

    async def close(self) -> None:
        """Closes the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def configure(self, settings: Mapping[str, str]) -> list[str]:
        """Applies `api_key` and `base_url` at runtime (values never logged nor echoed).

        Raises:
            PrizmError: INVALID_ARGUMENT naming an unknown setting, an empty key or a bad URL.
        """
        unknown = [name for name in settings if name not in _SETTINGS]
        if unknown:
            raise unknown_settings(unknown)
        if "api_key" in settings and not settings["api_key"].strip():
            raise invalid_argument([("settings.api_key", "must not be empty")])
        base_url = _checked_base_url(settings["base_url"]) if "base_url" in settings else self.base_url
        self.api_key = settings.get("api_key", self.api_key).strip()
        self.base_url = base_url
        self.http.reconfigure(self.api_key, self.base_url)
        return sorted(settings)

    async def check_health(self) -> Health:
        """GETs `health_path` once (no retries: the harness backs off): serving when it answers 2xx,
        not serving with the reason and the vendor's words otherwise."""
        try:
            await self.http.request("GET", self.health_path, paid=False, retries=0, timeout=10.0)
        except PrizmError as exc:
            return Health(False, f"{exc.reason}: {exc.message}")
        return Health(True, f"{self.vendor.name} answers at {self.http.base_url.host}")
