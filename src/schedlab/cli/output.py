"""What every command shares on the way out: the one-line error and the console."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from schedlab.errors import SchedlabError


@contextmanager
def errors() -> Iterator[None]:
    """Turn the errors a user can fix (:class:`~schedlab.errors.SchedlabError`) into one line
    ``Error: ...`` on standard error and exit status 2; any other exception is a bug and keeps its
    traceback."""
    try:
        yield
    except SchedlabError as err:
        Console(stderr=True).print(
            f"[bold red]Error:[/] {escape(str(err))}", markup=True, highlight=False, soft_wrap=True
        )  # one line, however narrow the terminal (a log reader greps for it)
        raise typer.Exit(2) from None


def console() -> Console:
    """Standard output; wide enough for the tables when it is not a terminal (logs, pipes)."""
    return Console() if sys.stdout.isatty() else Console(width=160)
