"""Helpers shared by the benchmark scripts: timing, the machine line, agreement, tables.

Each benchmark measures schedlab and its peers in the same run, so ratios are meaningful on a
noisy shared machine even when absolute times are not.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any


def median_seconds(fn: Callable[[], Any], repeats: int = 7, warmups: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls, after ``warmups`` calls.

    ``fn`` must finish its work before returning (call ``block_until_ready`` for JAX values).
    """
    if repeats < 1:
        raise ValueError(f"median_seconds: repeats must be >= 1, got {repeats!r}")
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(packages: Sequence[str]) -> str:
    """One line naming the CPU, its cores, Python, the given package versions and today's date."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return (
        f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{', '.join(versions)}; {datetime.date.today().isoformat()}"
    )


def peak_relative_gap(a: Any, b: Any) -> float:
    """``max|a - b| / max|b|``: the largest disagreement as a fraction of the curve's peak."""
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"peak_relative_gap: shapes differ, got {a.shape} and {b.shape}")
    peak = float(np.max(np.abs(b))) or 1.0
    return float(np.max(np.abs(a - b))) / peak


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table; the first column is left-aligned, the others right-aligned."""
    align = [":---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with 3 significant digits, e.g. ``'12.3 ms'``."""
    return f"{seconds * 1e3:.3g} ms"
