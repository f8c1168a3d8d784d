"""Progress on long work, on stderr: live (rich) on a terminal, one plain line per step otherwise.

`LoopDisplay` follows one loop (`solve`, `fix`): best so far, attempts, tokens, cost. `BenchDisplay`
follows a bench: problems done, solved so far, and an ETA. Neither prints candidate text; what they do
print passes through `terminal_safe` where it comes from outside.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from greenloop.cli.common import progress_line, terminal_safe
from greenloop.loop.result import Progress as LoopProgress


class LoopDisplay:
    """Best so far, attempts, tokens and cost of one loop, redrawn in place on a terminal."""

    def __init__(self, console: Console, *, enabled: bool = True, starting: str = "starting") -> None:
        self.console = console
        self.enabled = enabled
        self.live = enabled and console.is_terminal
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
            TextColumn("{task.fields[tests]}"), TextColumn("{task.fields[rest]}", markup=False), TimeElapsedColumn(),
            console=console, transient=True, refresh_per_second=8,
        )
        self.task: TaskID = self.progress.add_task(terminal_safe(starting), total=None, tests="", rest="")

    def __enter__(self) -> LoopDisplay:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.live:
            self.progress.stop()

    def update(self, p: LoopProgress) -> None:
        if not self.enabled:
            return
        if not self.live:
            self.console.print(progress_line(p), highlight=False, markup=False, soft_wrap=True)
            return
        rest = (f"call {p.calls}/{p.max_calls} · last {p.last_passed}/{p.total} · "
                f"{p.prompt_tokens + p.completion_tokens:,} tokens" + (f" · ${p.cost:.4f}" if p.cost else ""))
        self.progress.update(self.task, description="best", total=max(p.total, 1), completed=p.best_passed,
                             tests=f"{p.best_passed}/{p.total} tests", rest=rest)

    def note(self, text: str) -> None:
        """A line printed above the live display (or among the plain lines)."""
        if self.enabled:
            self.console.print(terminal_safe(text), highlight=False, markup=False, soft_wrap=True)


class BenchDisplay:
    """Problems done out of `total`, solved so far, and the time left, with one line per finished problem."""

    def __init__(self, console: Console, total: int, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self.live = enabled and console.is_terminal
        self.total = total
        self.done = 0
        self.solved = 0
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]problems"), BarColumn(), MofNCompleteColumn(), TextColumn("· solved {task.fields[solved]}"),
            TextColumn("· ETA"), TimeRemainingColumn(), TextColumn("· elapsed"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self.task: TaskID = self.progress.add_task("bench", total=total, solved=0)

    def __enter__(self) -> BenchDisplay:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.live:
            self.progress.stop()

    def expect(self, left: int) -> None:
        """A resumed bench runs only the problems it has not finished: the bar counts those."""
        self.total = left
        self.progress.update(self.task, total=left)

    def eta(self) -> float | None:
        """Seconds left at the pace so far; None before the first problem finishes."""
        if not self.done:
            return None
        return (time.monotonic() - self.started) / self.done * max(0, self.total - self.done)

    def finished(self, line: str, solved: bool) -> None:
        """One problem finished: `line` (rich markup allowed; built from trusted fields) and whether it was solved."""
        if not self.enabled:
            return
        self.done += 1
        self.solved += solved
        if self.live:
            self.progress.console.print(line, highlight=False, soft_wrap=True)
            self.progress.update(self.task, completed=self.done, solved=self.solved)
            return
        eta = self.eta()
        left = "" if eta is None or self.done >= self.total else f" · ETA {eta:.0f}s"
        self.console.print(f"[{self.done}/{self.total}] {line} · {self.solved} solved so far{left}", highlight=False,
                           soft_wrap=True)
