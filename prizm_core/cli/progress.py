"""A job's live progress on stderr: a bar per job (per step of a conversion), with the provider's ETA."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from prizm_core.client.events import Completion, Event, OutputHeader
from prizm_core.client.events import Progress as JobProgress

__all__ = ["ProgressBar", "eta_text"]


def eta_text(seconds: float | None) -> str:
    """`eta 42s`, `eta 3:05` or `eta 1:02:03` for the seconds left; "" when unknown."""
    if seconds is None:
        return ""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"eta {hours}:{minutes:02}:{secs:02}"
    return f"eta {minutes}:{secs:02}" if minutes else f"eta {secs}s"


class ProgressBar:
    """Draws job events as progress bars on stderr; use as a context manager around the job(s).

    A conversion passes its `steps` (the capabilities, in order): each job gets its own bar,
    `step i/n CAPABILITY`, started when the job's first event arrives.
    """

    def __init__(self, console: Console, steps: Sequence[str] = ()) -> None:
        """Prepares the bars.

        Args:
            console: Where to draw (stderr).
            steps: The capabilities of a multi-step conversion, in order; empty for one job.
        """
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[eta]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._steps = list(steps)
        self._jobs: list[str] = []
        self._task: TaskID = self.progress.add_task(self._label("routing"), total=100, eta="")

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.progress.stop()
            return
        # A failed or cancelled job: its error says enough, so no half bar (nor blank line) stays.
        self.progress.live.transient = True
        self.progress.live.stop()

    def _label(self, text: str) -> str:
        if len(self._steps) < 2:
            return text
        step = max(len(self._jobs), 1)
        return f"step {step}/{len(self._steps)} {self._steps[step - 1]} · {text}"

    def _follow(self, job_id: str) -> None:
        """Starts a new bar when a conversion's next job begins."""
        if not job_id or job_id in self._jobs:
            return
        self._jobs.append(job_id)
        if len(self._jobs) > 1 and len(self._jobs) <= len(self._steps):
            self.progress.update(self._task, completed=100, eta="")
            self._task = self.progress.add_task(self._label("routing"), total=100, eta="")

    def __call__(self, event: Event) -> None:
        """Takes the next event of the job (or of the conversion's current job)."""
        self._follow(event.job_id)
        if isinstance(event, JobProgress):
            text = " · ".join(part for part in (event.stage, event.message) if part) or "working"
            if event.fraction is None:
                self.progress.update(self._task, description=self._label(text), eta=eta_text(event.eta_s))
            else:
                self.progress.update(
                    self._task,
                    description=self._label(text),
                    completed=event.fraction * 100,
                    eta=eta_text(event.eta_s),
                )
        elif isinstance(event, OutputHeader):
            self.progress.update(self._task, description=self._label("receiving output"), eta="")
        elif isinstance(event, Completion):
            self.progress.update(self._task, completed=100, description=self._label("done"), eta="")
