"""A schedule comparison from start to ranking: plan, run (or resume) into the store, rank.

This is what ``schedlab compare`` and :func:`schedlab.lab.compare` both call.  The result knows
where its runs are and writes its ranking (``ranking.json``) and, on request, its HTML report.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import Ranking, find_baseline, rank
from schedlab.lab.runs.rows import RunRow
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import Tracker
from schedlab.lab.sweeps.backends import SweepBackend
from schedlab.lab.sweeps.plan import SweepPlan, make_plan
from schedlab.lab.sweeps.run import ProgressFn, SweepOutcome, run_sweep
from schedlab.lab.train.setup import TrainSetup


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader (or a crash) never sees a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_output_folder(path: str | os.PathLike, what: str = "out") -> Path:
    """Check, without creating anything, that ``path`` is or can become a writable folder: not a
    file, and its nearest existing parent a writable folder (:class:`ConfigError` naming
    ``what`` otherwise).  Call it before training, so a bad path fails at once."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what}: {str(folder)!r} is a file, not a folder")
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what}: cannot create {str(folder)!r}: {str(parent)!r} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: cannot create {str(folder)!r}: {str(parent)!r} is not writable")
    return folder


def output_folder(path: str | os.PathLike, what: str = "out") -> Path:
    """``path`` as a folder to write into, created if missing (see :func:`check_output_folder`)."""
    folder = check_output_folder(path, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{what}: cannot create the folder {str(folder)!r} ({err.strerror})"
        ) from None
    return folder


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`run_comparison`: the sweep run in ``store`` and its ranking."""

    store: Path
    plan: SweepPlan
    outcome: SweepOutcome
    ranking: Ranking
    #: which engine trained the runs of this call (``None`` when nothing was left to train)
    engine: str | None = None

    @property
    def name(self) -> str:
        """The sweep's name in the store."""
        return self.plan.name

    @property
    def runs(self) -> list[RunRow]:
        """The stored runs of the sweep (read from the store now)."""
        with RunStore(self.store) as store:
            return store.runs(self.plan.name)

    def save_ranking(self, folder: str | os.PathLike) -> Path:
        """Write the ranking as ``folder/ranking.json`` (atomically) and return its path."""
        out = output_folder(folder)
        text = json.dumps(self.ranking.to_dict(), indent=2) + "\n"
        return write_atomic(out / "ranking.json", text)

    def report(self, folder: str | os.PathLike) -> Path:
        """Write the HTML report of the sweep into ``folder`` and return its path.

        The report is an interface (layer 4): it is imported here, when asked for, and is the one
        call from the lab into the report layer (see docs/architecture.md).
        """
        from schedlab.report.html import write_report

        out = output_folder(folder)
        return write_report(
            self.store, self.plan.name, out,
            metric=self.ranking.metric, baseline=self.ranking.baseline,
        )  # fmt: skip


def run_comparison(
    setup: TrainSetup,
    schedules: Sequence[tuple[str | None, str | dict] | str | dict],
    seeds: Sequence[int],
    *,
    store: str | os.PathLike,
    name: str | None = None,
    baseline: str | None = None,
    metric: str | None = None,
    target: float | None = None,
    device: str = "cpu",
    group_size: int = 16,
    data_root: str | None = None,
    data: Any = None,
    backend: SweepBackend | None = None,
    trackers: Sequence[Tracker] = (),
    progress: ProgressFn | None = None,
) -> Comparison:
    """Plan the sweep of ``schedules`` x ``seeds`` under ``setup``, run (or resume) it into
    ``store`` and rank it by ``metric`` (default ``val_acc``; ``val_loss`` for regression).

    Everything that can be checked before training is: the schedules, the baseline.  Rerunning
    the same call skips finished runs and resumes unfinished ones.
    """
    plan = make_plan(setup, schedules, seeds, name)
    find_baseline(baseline, dict(plan.schedules))
    with RunStore(store) as run_store:
        outcome = run_sweep(
            run_store, plan, device=device, group_size=group_size, data_root=data_root,
            progress=progress, backend=backend, trackers=trackers, dataset=data,
        )  # fmt: skip
        ranking = rank(
            run_store, plan.name, baseline=baseline, metric=metric or "val_acc", target=target
        )
    engine = "; ".join(outcome.engines) or None
    return Comparison(Path(store), plan, outcome, ranking, engine)
