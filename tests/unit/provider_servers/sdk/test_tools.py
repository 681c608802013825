"""Command-line tools for jobs: lines out, failures with their complaint, the whole group killed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from provider_servers.sdk.tools import ToolError, file_chunks, missing_tools, tool_lines


def _running(marker: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue
    return False


async def test_stdout_comes_line_by_line() -> None:
    lines = [line async for line in tool_lines(["sh", "-c", "echo one; echo two; echo three"])]
    assert lines == ["one", "two", "three"]


async def test_a_failing_tool_raises_with_its_complaint(tmp_path: Path) -> None:
    script = f"echo working; echo 'cannot read {tmp_path}/input-0: bad data' >&2; exit 3"
    with pytest.raises(ToolError) as failure:
        async for _ in tool_lines(["sh", "-c", script]):
            pass
    assert failure.value.returncode == 3
    assert failure.value.last_line(tmp_path) == "cannot read /input-0: bad data"


async def test_leaving_early_kills_the_whole_process_group() -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.5"  # a sleep time no one else uses
    lines = tool_lines(["sh", "-c", f"echo started; sleep {marker} & sleep {marker}; echo never"])
    async for line in lines:
        assert line == "started"
        break
    await lines.aclose()
    assert _running(marker) is False, "the child of the tool survived"


async def test_cancelling_kills_the_tool_at_once() -> None:
    marker = f"{uuid.uuid4().int % 10**6 + 10**6}.25"

    async def consume() -> None:
        async for _ in tool_lines(["sh", "-c", f"sleep {marker}"]):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    assert _running(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _running(marker)


async def test_file_chunks_and_missing_tools(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000
    path = tmp_path / "out.bin"
    path.write_bytes(data)
    assert b"".join([piece async for piece in file_chunks(path)]) == data
    assert missing_tools("sh", "no-such-tool-prizm") == ["no-such-tool-prizm"]
