"""What `prizm` refuses before any work (bad flags, inputs, paths; no router), and its completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import NOWHERE, bash_script, env_for, prizm


def test_no_router_is_named_by_the_address_tried_without_transport_text() -> None:
    for nowhere in (
        prizm("providers", router=NOWHERE, timeout=60),
        prizm("run", "text-to-audio", "hi", "-o", "-", env=env_for(NOWHERE)),
        prizm("models", "--router", NOWHERE, env=env_for("127.0.0.1:2")),
    ):
        assert nowhere.returncode == 1
        assert nowhere.stderr.startswith(f"error: UNAVAILABLE: no router at {NOWHERE};"), nowhere.stderr
        assert "prizm up" in nowhere.stderr
        assert "failed to connect" not in nowhere.stderr and "ipv4" not in nowhere.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "text-to-audio", "hi", "--timeout", "-1"], "argument --timeout: must be more than 0"),
        (["run", "text-to-audio", "hi", "--wait", "abc"], "argument --wait: not a number of seconds"),
        (["run", "text-to-audio", "hi", "--option", "novalue"], "argument --option: expected KEY=VALUE"),
        (["run", "text-to-audio", "hi", "--policy", "fastest"], "unknown routing policy 'fastest'"),
        (["providers", "--router", "localhost"], "not a host:port address"),
        (["router", "--workers", "0"], "argument --workers: must be 1 or more"),
        (["up", "--log-level", "loud"], "argument --log-level: invalid choice"),
        (["convert", "x.mp4", "--to", "smell"], "argument --to: invalid choice"),
        (["run", "audio-to-text", "/no/such.wav"], "no such file: /no/such.wav"),
        (["run", "text-to-audio", "@/no/such.txt"], "no such file: /no/such.txt"),
        (["run", "text-to-audio", "hi", "-o", "-", "--json"], "--json and -o - both write to stdout"),
        (["run", "text-to-text", "\udcff is a byte"], "the text is not UTF-8"),  # the shell's byte 0xff
        (["run", "text-to-text", "hi", "--provider", "\udcff"], "argument --provider: not UTF-8 text"),
    ],
)
def test_bad_flags_and_inputs_are_usage_errors_without_a_traceback(args: list[str], says: str) -> None:
    done = prizm(*args, router=NOWHERE)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_stdin_that_is_not_what_the_job_takes_is_a_usage_error() -> None:
    for args, stdin, says in (
        (["run", "text-to-audio", "-"], b"\xff\xfe\x00 not text", "stdin is not UTF-8 text"),
        (
            ["run", "audio-to-text", "-"],
            b"\x01\x02 no known media",
            "cannot tell the media type of stdin",
        ),
        (["run", "audio-to-text", "-"], b"", "stdin is empty"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "prizm_core.cli", *args],
            capture_output=True,
            input=stdin,
            timeout=60,
            env=env_for(NOWHERE),
            check=False,
        )
        assert done.returncode == 2 and says in done.stderr.decode(), done.stderr
        assert b"Traceback" not in done.stderr


def test_output_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    for output, says in (
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "out.wav", "no folder"),
        (tmp_path / "file" / "out.wav", "is a file, not a folder"),
    ):
        # No router is there: refused before any call, the path is the only complaint.
        done = prizm("run", "text-to-audio", "hi", "-o", str(output), router=NOWHERE)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "no router" not in done.stderr
    assert not (tmp_path / "missing").exists()


def test_shell_completion_completes_commands_capabilities_and_kinds() -> None:
    script = """
        source <(prizm completion bash)
        complete_at() {
            COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; _python_argcomplete prizm; echo "${COMPREPLY[*]}"
        }
        complete_at "prizm ru"
        complete_at "prizm run text-to-a"
        complete_at "prizm convert talk.mp4 --to vi"
        complete_at "prizm models --capability image-to-t"
    """
    bin_dir = Path(sys.executable).parent
    done = bash_script(script, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert [line.strip() for line in done.stdout.splitlines()] == [
        "run",
        "text-to-audio",
        "video",
        "image-to-text",
    ]
