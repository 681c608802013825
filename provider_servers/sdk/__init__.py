"""The provider SDK, all from this one import: subclass `Provider`, serve it with `run_provider`."""

from prizm_core.enums import Capability, JobState, MediaKind, MediaUnit, ProviderKind
from prizm_core.errors import PrizmError, Reason, invalid_argument, unknown_settings
from provider_servers.sdk.harness import run_provider
from provider_servers.sdk.health import Health
from provider_servers.sdk.jobs import Event, InputAsset, Job, Output, Progress, Usage
from provider_servers.sdk.models import ModelSpec, OptionValue, Param
from provider_servers.sdk.provider import Provider
from provider_servers.sdk.standard_options import STANDARD_OPTIONS, StandardOption, standard_param
from provider_servers.sdk.tools import ToolError, file_chunks, missing_tools, tool_lines, tool_meter

__all__ = [
    "STANDARD_OPTIONS",
    "Capability",
    "Event",
    "Health",
    "InputAsset",
    "Job",
    "JobState",
    "MediaKind",
    "MediaUnit",
    "ModelSpec",
    "OptionValue",
    "Output",
    "Param",
    "PrizmError",
    "Progress",
    "Provider",
    "ProviderKind",
    "Reason",
    "StandardOption",
    "ToolError",
    "Usage",
    "file_chunks",
    "invalid_argument",
    "missing_tools",
    "run_provider",
    "standard_param",
    "tool_lines",
    "tool_meter",
    "unknown_settings",
]
