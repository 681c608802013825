"""Where `-o` puts a job's output: the path checked before any work, the format its extension asks for.

The standard `format` option is always a file extension (docs/options.md), so `-o speech.mp3`
asks for `format=mp3`. A model without a `format` option writes one format: its output MIME type's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from google.protobuf import json_format
from prizm.v1 import catalog_pb2 as catalog_pb

from prizm_core.assets import extension_for
from prizm_core.cli.explain import UsageError
from prizm_core.client import FileSink, JobResult, MemorySink, OutputSink
from prizm_core.client.events import OutputHeader

__all__ = [
    "STDIO",
    "check_default_format",
    "check_output_path",
    "format_for_output",
    "output_sink",
    "write_to_stdout",
]

STDIO = "-"
FORMAT = "format"
# Two spellings of one format; the model's choice list says which one it takes.
_ALIASES = {"jpg": "jpeg", "jpeg": "jpg", "tif": "tiff", "tiff": "tif", "htm": "html", "html": "htm"}


def check_output_path(output: str | None) -> None:
    """Refuses an `-o` path that cannot be written, before any work is done.

    Raises:
        UsageError: the path is a folder, its folder is missing, a file stands where a folder
            should be, or the folder cannot be written to.
    """
    if output is None or output == STDIO:
        return
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"-o {output}: is a folder; name a file in it")
    parent = path.parent
    for folder in (parent, *parent.parents):
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"-o {output}: {folder} is a file, not a folder")
        if folder.exists():
            break
    if not parent.is_dir():
        raise UsageError(f"-o {output}: no folder {parent}; create it first")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"-o {output}: cannot write in {parent}")


def _extension(output: str | None) -> str:
    """The extension of an `-o` file, lower case without the dot; "" for none or stdout."""
    return Path(output).suffix.lower().lstrip(".") if output and output != STDIO else ""


def _format_parameter(model: catalog_pb.Model) -> catalog_pb.Parameter | None:
    return next((p for p in model.parameters if p.name == FORMAT and p.choices), None)


def _spelled(extension: str, formats: Sequence[str]) -> str | None:
    """`extension` as `formats` spell it (`jpg` may be `jpeg`), or None when none is it."""
    for name in (extension, _ALIASES.get(extension)):
        if name in formats:
            return name
    return None


def _written_formats(model: catalog_pb.Model) -> list[str]:
    """Every format a model can write: its `format` choices, else its output's own."""
    parameter = _format_parameter(model)
    if parameter is not None:
        return list(parameter.choices)
    return [extension_for(model.output_mime_type).lstrip(".")] if model.output_mime_type else []


def _default_formats(model: catalog_pb.Model) -> list[str]:
    """The format a model writes when no `format` option is given (empty when it depends on the
    input)."""
    parameter = _format_parameter(model)
    if parameter is None:
        return _written_formats(model)
    if not parameter.HasField("default_value"):
        return []
    return [str(json_format.MessageToDict(parameter.default_value))]


def _refusal(output: str, extension: str, formats: set[str], what: str) -> UsageError:
    if not formats:
        return UsageError(f"-o {output}: no model here {what} .{extension} files")
    named = ", ".join(f".{name}" for name in sorted(formats))
    return UsageError(f"-o {output}: no model here {what} .{extension} files; use one of {named}")


def format_for_output(
    output: str | None, options: Mapping[str, object], models: Sequence[catalog_pb.Model]
) -> str | None:
    """The `format` option that `-o OUTPUT`'s extension asks of `models` (the job's candidates).

    None when there is nothing to ask: no `-o`, stdout, no extension, no candidate known yet (the
    router answers then), or candidates that write that format without a `format` option.

    Raises:
        UsageError: an explicit `format` option disagrees with the extension, or no candidate
            writes files of that extension (naming the extensions that would work).
    """
    extension = _extension(output)
    if not extension:
        return None
    explicit = options.get(FORMAT)
    if explicit is not None and _spelled(extension, [str(explicit).lower()]) is None:
        raise UsageError(f"--option format={explicit} disagrees with -o {output}; leave one out")
    if not models:
        return None
    takers = [m for m in models if _spelled(extension, _written_formats(m)) is not None]
    if not takers:
        every = {name for model in models for name in _written_formats(model)}
        raise _refusal(output or "", extension, every, "writes")
    # Asking for the format leaves out, when the router picks, any taker that has no `format`
    # option: the caller gets the format the extension names either way.
    choices = [_format_parameter(m) for m in takers]
    spelled = [_spelled(extension, list(p.choices)) for p in choices if p is not None]
    return spelled[0] if spelled else None


def check_default_format(output: str | None, models: Sequence[catalog_pb.Model]) -> None:
    """Refuses an `-o` extension that none of `models` writes without options (for `convert`)."""
    extension = _extension(output)
    if not extension or not models:
        return
    defaults = {name for model in models for name in _default_formats(model)}
    # A model that keeps its input's format by default has none to compare with: it decides.
    if defaults and _spelled(extension, sorted(defaults)) is None:
        raise _refusal(output or "", extension, defaults, "converts to")


def output_sink(output: str | None, job_prefix: str, text_output: bool) -> OutputSink:
    """Where a job's outputs go: memory (text to print, or `-o -`), else files.

    Without `-o`, files are named `prizm-JOB_PREFIX-INDEX.EXT`; with `-o FILE`, the first output is
    FILE and the others FILE-1, FILE-2 (same extension).
    """
    if output == STDIO or (output is None and text_output):
        return MemorySink()

    def path_for(header: OutputHeader) -> Path:
        index = header.index
        if output is None:
            return Path(f"prizm-{job_prefix}-{index}{extension_for(header.mime_type)}")
        path = Path(output)
        return path if index == 0 else path.with_name(f"{path.stem}-{index}{path.suffix}")

    return FileSink(path_for)


def write_to_stdout(result: JobResult) -> None:
    """Writes every output's bytes to stdout, in order (binary outputs as bytes)."""
    for output in result.outputs:
        sys.stdout.buffer.write(output.data or b"")
    sys.stdout.buffer.flush()
