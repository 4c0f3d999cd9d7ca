"""A schedule comparison from start to ranking: plan, run (or resume) into the store, rank.

This is what ``schedlab compare`` and :func:`schedlab.lab.compare` both call.  The result knows
where its runs are and writes its ranking (``ranking.json``) and, on request, its HTML report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import (
    METRICS,
    Ranking,
    check_sesoi,
    find_baseline,
    metric_direction,
    rank,
)
from schedlab.lab.runs.files import output_folder, write_atomic
from schedlab.lab.runs.rows import RunRow
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import Tracker
from schedlab.lab.sweeps.backends import SweepBackend
from schedlab.lab.sweeps.plan import SweepPlan, make_plan
from schedlab.lab.sweeps.run import ProgressFn, SweepOutcome, run_sweep
from schedlab.lab.train.config import TrainConfig
from schedlab.lab.train.setup import TrainSetup


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
            metric=self.ranking.metric_key, baseline=self.ranking.baseline,
            tests=self.ranking.tests, sesoi=self.ranking.sesoi,
        )  # fmt: skip


def is_classification(setup: TrainSetup) -> bool:
    """Whether ``setup`` is a classification task (it has accuracies) or a regression one."""
    if isinstance(setup, TrainConfig):
        return setup.loss == "cross_entropy"
    return bool(getattr(setup, "classification", True))


def check_metric(setup: TrainSetup, metric: str | None) -> str:
    """The ranking metric: ``metric``, or by default ``val_acc`` (``val_loss`` for regression);
    an accuracy asked of a regression task is a :class:`ConfigError` (it has none), as is a
    metric of the user's own (``"val_f1:max"``) that the task does not compute."""
    classification = is_classification(setup)
    if metric is None:
        return "val_acc" if classification else "val_loss"
    name, _ = metric_direction(metric)
    if name not in METRICS:
        own = [f"val_{k}" for k in getattr(setup, "metrics", None) or {}]
        if name not in own:
            raise ConfigError(
                f"metric {name!r} is not one of this task's metrics: "
                f"{', '.join([*METRICS, *own])} (a metric of your own is stored as "
                "val_<name>; give it in metrics={name: fn})"
            )
        return metric
    if name.endswith("_acc") and not classification:
        raise ConfigError(
            f"metric {metric!r} does not exist for a regression task (loss "
            f"{setup.to_dict().get('loss')!r}: no accuracy); use "
            f"{name.replace('_acc', '_loss')!r}"
        )
    return metric


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
    tests: bool = False,
    sesoi: float | None = None,
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

    ``tests`` (or a ``sesoi``) decides each schedule against the baseline as the experiments do
    (see :func:`schedlab.lab.analysis.stats.rank`).

    Everything that can be checked before training is: the schedules, the baseline, the metric
    (an accuracy of a regression task is refused), then (in :func:`run_sweep`) the device and
    the data, all before anything is written to the store.  Rerunning
    the same call skips finished runs and resumes unfinished ones.
    """
    plan = make_plan(setup, schedules, seeds, name)
    find_baseline(baseline, dict(plan.schedules))
    metric = check_metric(setup, metric)
    check_sesoi(sesoi)
    with RunStore(store) as run_store:
        outcome = run_sweep(
            run_store, plan, device=device, group_size=group_size, data_root=data_root,
            progress=progress, backend=backend, trackers=trackers, dataset=data,
        )  # fmt: skip
        ranking = rank(run_store, plan.name, baseline=baseline, metric=metric, target=target,
                       tests=tests, sesoi=sesoi)  # fmt: skip
    engine = "; ".join(outcome.engines) or None
    return Comparison(Path(store), plan, outcome, ranking, engine)
