"""Command-line tools for a job: run in their own process group, killed with it on cancel, and
their output files streamed a chunk at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["ToolError", "file_chunks", "missing_tools", "tool_lines"]

_STDERR_TAIL_BYTES = 4096
_READ_BYTES = 1024 * 1024


class ToolError(Exception):
    """A tool exited with a non-zero status; `stderr` holds the end of what it printed."""

    def __init__(self, tool: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{tool} exited with {returncode}: {stderr}")
        self.tool = tool
        self.returncode = returncode
        self.stderr = stderr

    def last_line(self, workdir: Path | None = None) -> str:
        """The tool's last line of complaint, with the job's temporary paths taken out."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        line = lines[-1] if lines else f"exit status {self.returncode}"
        return line.replace(str(workdir), "") if workdir is not None else line


def missing_tools(*names: str) -> list[str]:
    """The names of the programs that are not on the PATH."""
    return [name for name in names if shutil.which(name) is None]


async def _drain(stream: asyncio.StreamReader, keep: bytearray) -> None:
    while piece := await stream.read(65536):
        keep += piece
        del keep[:-_STDERR_TAIL_BYTES]


async def tool_lines(argv: Sequence[str], cwd: Path | None = None) -> AsyncIterator[str]:
    """Runs `argv` and yields its stdout line by line.

    The process gets its own process group; leaving the loop early, or a
    cancel, kills the whole group (children included) before this returns.

    Raises:
        ToolError: the tool exited with a non-zero status.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None  # noqa: S101 - spawned with pipes
    stderr = bytearray()
    draining = asyncio.create_task(_drain(process.stderr, stderr))
    try:
        while line := await process.stdout.readline():
            yield line.decode(errors="replace").rstrip("\n")
        await draining
        returncode = await process.wait()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        draining.cancel()
    if returncode:
        raise ToolError(os.path.basename(argv[0]), returncode, stderr.decode(errors="replace"))


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes, read a megabyte at a time off the event loop."""
    stream: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while piece := await asyncio.to_thread(stream.read, _READ_BYTES):
            yield piece
    finally:
        await asyncio.to_thread(stream.close)
