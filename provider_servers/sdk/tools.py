"""Command-line tools for a job: run in their own process group, killed with it on cancel, their
stdout lines or stderr progress meters read as they come, and their output files streamed a chunk
at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["ToolError", "file_chunks", "missing_tools", "tool_lines", "tool_meter"]

_STDERR_TAIL_BYTES = 4096
_READ_BYTES = 1024 * 1024
_PIPE_READ_BYTES = 65536
# A meter redraws its line after `\r`; a log line ends with `\n`. Either ends a segment.
_SEGMENT_END = re.compile(rb"[\r\n]")
# A tool that never writes a line end still gets its output passed on, in pieces this size.
_MAX_SEGMENT_BYTES = 65536


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


def _keep_tail(keep: bytearray, piece: bytes) -> None:
    keep += piece
    del keep[:-_STDERR_TAIL_BYTES]


async def _drain(stream: asyncio.StreamReader, keep: bytearray) -> None:
    while piece := await stream.read(_PIPE_READ_BYTES):
        _keep_tail(keep, piece)


def _check_exit(argv: Sequence[str], returncode: int, stderr: bytearray) -> None:
    if returncode:
        raise ToolError(os.path.basename(argv[0]), returncode, stderr.decode(errors="replace"))


@contextlib.asynccontextmanager
async def _process_group(
    argv: Sequence[str], cwd: Path | None, stdout: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Starts `argv` as the leader of a new process group, with stderr piped; on the way out
    (early exit, error, cancel) kills the whole group if the tool still runs, and reaps it."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def tool_lines(argv: Sequence[str], cwd: Path | None = None) -> AsyncIterator[str]:
    """Runs `argv` and yields its stdout line by line.

    The process gets its own process group; a cancel, or closing the iterator
    early (`contextlib.aclosing`), kills the whole group (children included)
    before this returns.

    Raises:
        ToolError: the tool exited with a non-zero status.
    """
    stderr = bytearray()
    async with _process_group(argv, cwd, asyncio.subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None  # noqa: S101 - spawned with pipes
        draining = asyncio.create_task(_drain(process.stderr, stderr))
        try:
            while line := await process.stdout.readline():
                yield line.decode(errors="replace").rstrip("\n")
            await draining
        finally:
            draining.cancel()
        returncode = await process.wait()
    _check_exit(argv, returncode, stderr)


def _segment(data: bytes) -> str:
    return data.decode(errors="replace").strip()


async def tool_meter(argv: Sequence[str], cwd: Path | None = None) -> AsyncIterator[str]:
    """Runs `argv` and yields its stderr in segments, split at `\r` and `\n`, as it writes them.

    For tools that draw a progress meter on stderr (sox `-S`, many encoders):
    each redraw is one segment, passed on when it is written, not when the
    tool exits. Segments are stripped of surrounding blanks; empty ones are
    skipped. The tool's stdout is discarded, so it must write its result to a
    file. The process gets its own process group; a cancel, or closing the
    iterator early (`contextlib.aclosing`), kills the whole group (children
    included) before this returns.

    Args:
        argv: The program and its arguments.
        cwd: Folder to run it in; the current one when None.

    Raises:
        ToolError: the tool exited with a non-zero status; `stderr` holds the
            end of what it wrote.
    """
    tail = bytearray()
    async with _process_group(argv, cwd, asyncio.subprocess.DEVNULL) as process:
        assert process.stderr is not None  # noqa: S101 - spawned with a pipe
        pending = b""
        while piece := await process.stderr.read(_PIPE_READ_BYTES):
            _keep_tail(tail, piece)
            *complete, pending = _SEGMENT_END.split(pending + piece)
            if len(pending) >= _MAX_SEGMENT_BYTES:
                complete.append(pending)
                pending = b""
            for segment in filter(None, map(_segment, complete)):
                yield segment
        if last := _segment(pending):
            yield last
        returncode = await process.wait()
    _check_exit(argv, returncode, tail)


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes, read a megabyte at a time off the event loop."""
    stream: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while piece := await asyncio.to_thread(stream.read, _READ_BYTES):
            yield piece
    finally:
        await asyncio.to_thread(stream.close)
