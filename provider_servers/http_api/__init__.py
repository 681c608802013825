"""A provider for any JSON HTTP API, described by a YAML file (`PRIZM_HTTP_API_CONFIG`) instead of code."""

from provider_servers.http_api.config import ConfigError, HttpApiConfig, load_config
from provider_servers.http_api.provider import CONFIG_ENV, HttpApiProvider

__all__ = ["CONFIG_ENV", "ConfigError", "HttpApiConfig", "HttpApiProvider", "load_config"]
