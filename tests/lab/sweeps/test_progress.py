"""Progress for people: plain lines off a terminal, rich bars on one, one sweep or several."""

from __future__ import annotations

import io

from schedlab.lab.sweeps.progress import progress, progress_many


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_per_sweep_with_the_last_one_always_written() -> None:
    out = io.StringIO()
    with progress_many(out, every=3600) as update:
        update("a", 0, 10)
        update("a", 5, 10)  # within `every` of the first line: not written
        update("b", 1, 4)
        update("a", 10, 10)  # the end is always written
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("training a: 0/10 member-epochs, 0%")
    assert lines[1].startswith("training b: 1/4 member-epochs, 25%") and "ETA" in lines[1]
    assert lines[2].startswith("training a: 10/10 member-epochs, 100%") and len(lines) == 3


def test_one_sweep_is_the_same_callback_with_its_name() -> None:
    out = io.StringIO()
    with progress("mine", out, every=0) as update:
        update(3, 6)
    assert out.getvalue().startswith("training mine: 3/6 member-epochs, 50%")


def test_a_terminal_gets_a_bar_per_sweep() -> None:
    out = Terminal()
    with progress_many(out) as update:
        update("first", 2, 4)
        update("second", 4, 4)
    text = out.getvalue()
    assert "training first" in text and "training second" in text
    assert "2/4" in text and "4/4" in text and "member-epochs" in text
