"""The provider SDK: subclass `Provider`, describe your models, implement `transform`."""

from provider_servers.sdk.jobs import Event, InputAsset, Job, Output, Progress, Usage
from provider_servers.sdk.models import ModelSpec, OptionValue, Param
from provider_servers.sdk.provider import Provider

__all__ = [
    "Event",
    "InputAsset",
    "Job",
    "ModelSpec",
    "OptionValue",
    "Output",
    "Param",
    "Progress",
    "Provider",
    "Usage",
]
