"""Command-line tools for jobs: stdout lines and stderr meters as they come, failures with their complaint,
the whole group killed."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from provider_servers.sdk.tools import ToolError, file_chunks, missing_tools, tool_lines, tool_meter


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


def _python(script: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script)]


def _gone(pid: int) -> bool:
    """Whether `pid` has exited: no longer in /proc, or a zombie waiting for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


async def test_meter_segments_arrive_as_the_tool_writes_them(tmp_path: Path) -> None:
    go = tmp_path / "go"
    meter = tool_meter(
        _python(f"""
            import sys, time
            from pathlib import Path
            sys.stderr.write("  10%\\r")
            sys.stderr.flush()
            for _ in range(400):  # waits for the test to have seen the first segment
                if Path({str(go)!r}).exists():
                    break
                time.sleep(0.05)
            sys.stderr.write("50%\\r90%\\n\\r\\ndone\\r\\n")
        """)
    )
    # The tool is still running (it waits for `go`), so the first segment cannot come from its exit.
    assert await asyncio.wait_for(anext(meter), timeout=15) == "10%"
    go.touch()
    assert [segment async for segment in meter] == ["50%", "90%", "done"]


async def test_a_meter_without_line_ends_still_comes_through() -> None:
    text = "a" * 150_000
    segments = [s async for s in tool_meter(_python(f"import sys; sys.stderr.write('a' * {len(text)})"))]
    assert len(segments) >= 2
    assert "".join(segments) == text


async def test_a_failing_meter_raises_with_the_tail_of_stderr(tmp_path: Path) -> None:
    seen: list[str] = []
    script = f"""
        import sys
        sys.stderr.write("working 5%\\r" * 2000)
        sys.stderr.write("cannot open {tmp_path}/input-0: no such file\\n")
        sys.exit(2)
    """
    with pytest.raises(ToolError) as failure:
        async for segment in tool_meter(_python(script)):
            seen.append(segment)
    assert seen == ["working 5%"] * 2000 + [f"cannot open {tmp_path}/input-0: no such file"]
    assert failure.value.returncode == 2
    assert failure.value.last_line(tmp_path) == "cannot open /input-0: no such file"
    assert 0 < len(failure.value.stderr) <= 4096  # the tail, not all 24 KB


async def test_cancelling_a_meter_kills_the_tool_and_its_child() -> None:
    script = """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        sys.stderr.write(f"pids {os.getpid()} {child.pid}\\r")
        sys.stderr.flush()
        time.sleep(120)
    """
    segments: list[str] = []
    started = asyncio.Event()

    async def consume() -> None:
        async for segment in tool_meter(_python(script)):
            segments.append(segment)
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=15)
    tool_pid, child_pid = (int(word) for word in segments[0].split()[1:])
    assert not _gone(tool_pid)
    assert not _gone(child_pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(tool_pid), "the tool survived the cancel"
    for _ in range(100):  # the orphaned child is killed at once, but reaped by init a moment later
        if _gone(child_pid):
            break
        await asyncio.sleep(0.05)
    assert _gone(child_pid), "the tool's child survived the cancel"
