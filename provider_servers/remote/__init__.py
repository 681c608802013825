"""Remote providers' foundation: `RemoteProvider`, its `VendorHttp`, `vendor_error`, and `FakeVendor`."""

from provider_servers.remote.fake import Call, FakeVendor
from provider_servers.remote.pricing import image_units, input_audio_seconds, input_characters, megapixels
from provider_servers.remote.provider import RemoteProvider
from provider_servers.remote.scrubbing import REDACTED, scrub
from provider_servers.remote.uploads import (
    DATA_URL_MAX_BYTES,
    asset_body,
    data_url,
    file_name,
    multipart_file,
)
from provider_servers.remote.vendor import Vendor
from provider_servers.remote.vendor_errors import retry_after_seconds, vendor_error
from provider_servers.remote.vendor_http import DOWNLOAD_CHUNK_BYTES, RequestBody, VendorHttp

__all__ = [
    "DATA_URL_MAX_BYTES",
    "DOWNLOAD_CHUNK_BYTES",
    "REDACTED",
    "Call",
    "FakeVendor",
    "RemoteProvider",
    "RequestBody",
    "Vendor",
    "VendorHttp",
    "asset_body",
    "data_url",
    "file_name",
    "image_units",
    "input_audio_seconds",
    "input_characters",
    "megapixels",
    "multipart_file",
    "retry_after_seconds",
    "scrub",
    "vendor_error",
]
