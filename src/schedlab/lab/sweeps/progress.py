"""Progress of a sweep for people: a bar on a terminal, a plain line every few seconds elsewhere.

On a terminal (``stream.isatty()``) a ``rich`` progress bar (member-epochs done of to do, time,
ETA) as wide as the terminal; in CI, under ``nohup`` or into a log file, one line every
:data:`LINE_SECONDS` seconds and one at the end (``training NAME: 120/300 member-epochs, 40%,
1m12s, ETA 1m48s``), so a log shows that the sweep is alive.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: seconds between two progress lines when the output is not a terminal
LINE_SECONDS = 10.0

ProgressFn = Callable[[int, int], None]


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class _Lines:
    """Plain progress lines, at most one per ``every`` seconds (and the last one)."""

    def __init__(self, name: str, stream: TextIO, every: float) -> None:
        self.name, self.stream, self.every = name, stream, every
        self.start = time.monotonic()
        self.shown = -float("inf")
        self.last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = (done, total)
        now = time.monotonic()
        if now - self.shown >= self.every or (total and done >= total):
            self.shown = now
            self.stream.write(self.line(done, total, now) + "\n")
            self.stream.flush()

    def line(self, done: int, total: int, now: float) -> str:
        spent = now - self.start
        text = f"training {self.name}: {done}/{total} member-epochs"
        if total:
            text += f", {100 * done / total:.0f}%, {_clock(spent)}"
            if 0 < done < total:
                text += f", ETA {_clock(spent * (total - done) / done)}"
        return text


#: a progress callback over several sweeps: ``(sweep, done, total)``
ManyFn = Callable[[str, int, int], None]


@contextmanager
def progress_many(stream: TextIO | None = None, every: float = LINE_SECONDS) -> Iterator[ManyFn]:
    """A ``(sweep, done, total)`` callback showing the progress of every sweep it is called for
    on ``stream`` (standard error by default): one bar per sweep on a terminal, plain lines per
    sweep otherwise."""
    stream = stream or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        lines: dict[str, _Lines] = {}

        def line(sweep: str, done: int, total: int) -> None:
            if sweep not in lines:
                lines[sweep] = _Lines(sweep, stream, every)
            lines[sweep](done, total)

        yield line
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("member-epochs"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=Console(file=stream),
    )  # fmt: skip
    tasks: dict[str, Any] = {}

    def update(sweep: str, done: int, total: int) -> None:
        if sweep not in tasks:
            tasks[sweep] = bar.add_task(f"training {sweep}", total=None)
        bar.update(tasks[sweep], completed=done, total=total)

    with bar:
        yield update


@contextmanager
def progress(
    name: str, stream: TextIO | None = None, every: float = LINE_SECONDS
) -> Iterator[ProgressFn]:
    """A ``(done, total)`` callback showing the progress of sweep ``name`` on ``stream``
    (standard error by default): a bar on a terminal, plain lines otherwise."""
    with progress_many(stream, every) as update:
        yield lambda done, total: update(name, done, total)
