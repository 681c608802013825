"""Progress bars: the provider's ETA, and one bar per step of a conversion."""

from __future__ import annotations

import io

from rich.console import Console

from prizm_core.cli.progress import ProgressBar, eta_text
from prizm_core.client.events import Completion, Progress


def test_eta_reads_as_seconds_minutes_or_hours() -> None:
    assert eta_text(None) == ""
    assert eta_text(42.4) == "eta 42s"
    assert eta_text(185) == "eta 3:05"
    assert eta_text(3723) == "eta 1:02:03"


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False), out


def test_the_providers_eta_and_fraction_are_shown() -> None:
    console, out = _console()
    with ProgressBar(console) as bar:
        bar(Progress(job_id="j1", sequence=1, fraction=0.25, stage="encode", eta_s=75))
        [task] = bar.progress.tasks
        assert (task.completed, task.fields["eta"]) == (25, "eta 1:15")
        assert "encode" in task.description
    assert "eta 1:15" in out.getvalue()


def test_each_step_of_a_conversion_gets_its_own_bar() -> None:
    console, out = _console()
    with ProgressBar(console, ["video-to-audio", "audio-to-text"]) as bar:
        bar(Progress(job_id="first", sequence=1, fraction=0.5))
        bar(Completion(job_id="first", sequence=2))
        bar(Progress(job_id="second", sequence=1, fraction=0.1, stage="recognize"))
        first, second = bar.progress.tasks
        assert first.completed == 100 and first.description.startswith("step 1/2 video-to-audio")
        assert second.completed == 10 and second.description == "step 2/2 audio-to-text · recognize"
    shown = out.getvalue()
    assert "step 1/2 video-to-audio · done" in shown and "step 2/2 audio-to-text" in shown


def test_a_failed_job_leaves_no_half_drawn_bar() -> None:
    console, out = _console()
    try:
        with ProgressBar(console) as bar:
            bar(Progress(job_id="j", sequence=1, fraction=0.5))
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert out.getvalue() == ""
