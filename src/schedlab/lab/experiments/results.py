"""The curves of an experiment's runs (all its sweeps), by schedule label and seed; the
experiment-wide ranking is :func:`schedlab.lab.analysis.stats.rank_groups` of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import Ranking, is_overfitting, rank_groups
from schedlab.lab.runs.store import DONE, RunStore

History = list[dict[str, Any]]


@dataclass(frozen=True)
class Results:
    """Per label: the sweep it belongs to, its schedule text, and each seed's epoch history.

    Only runs that are ``finished`` or ``diverged`` are kept.  Labels are unique across sweeps.
    """

    sweeps: Mapping[str, str]  # label -> sweep name
    schedules: Mapping[str, str]  # label -> canonical schedule text
    optimizers: Mapping[str, str]  # label -> optimizer
    curves: Mapping[str, Mapping[int, History]]
    statuses: Mapping[str, Mapping[int, str]]
    #: per label and seed, the rate of every optimizer step (loaded with ``rates=True``)
    rates: Mapping[str, Mapping[int, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: RunStore, sweeps: Iterable[str], *, rates: bool = False) -> Results:
        """Read the finished/diverged runs of ``sweeps`` from ``store`` (with ``rates``, also the
        per-step rates, for figures)."""
        names: dict[str, str] = {}
        schedules: dict[str, str] = {}
        optimizers: dict[str, str] = {}
        curves: dict[str, dict[int, History]] = {}
        statuses: dict[str, dict[int, str]] = {}
        steps: dict[str, dict[int, np.ndarray]] = {}
        for sweep in sweeps:
            for run in store.runs(sweep):
                if run.status not in DONE:
                    continue
                label = run.label
                if names.setdefault(label, sweep) != sweep:
                    raise ConfigError(f"experiment: label {label!r} appears in two sweeps")
                schedules[label] = run.schedule
                optimizers[label] = run.optimizer
                curves.setdefault(label, {})[int(run.seed)] = store.epochs(run.id)
                statuses.setdefault(label, {})[int(run.seed)] = run.status
                if rates:
                    steps.setdefault(label, {})[int(run.seed)] = store.step_lrs(run.id)
        return cls(names, schedules, optimizers, curves, statuses, steps)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.curves)

    def require(self, label: str) -> Mapping[int, History]:
        """The histories of ``label``; ``ValueError`` listing the known labels if absent."""
        if label not in self.curves:
            raise ConfigError(
                f"experiment: no finished runs for schedule {label!r}; have {', '.join(self.curves)}"
            )
        return self.curves[label]

    def series(self, label: str, key: str) -> dict[int, np.ndarray]:
        """Per seed, the per-epoch values of ``key`` (NaN where missing)."""
        return {
            seed: np.array(
                [math.nan if getattr(e, key) is None else float(getattr(e, key)) for e in hist]
            )
            for seed, hist in self.require(label).items()
        }

    def final(self, label: str, metric: str) -> dict[int, float]:
        """Per seed, the metric after the last epoch (NaN once diverged)."""
        return {
            seed: float(v[-1]) if v.size else math.nan
            for seed, v in self.series(label, metric).items()
        }

    def diverged(self, label: str) -> int:
        """Seeds of ``label`` whose loss became NaN/inf."""
        return sum(
            self.statuses[label][s] == "diverged" or any(e.diverged for e in h)
            for s, h in self.require(label).items()
        )

    def overfitting(self, label: str) -> int:
        """Seeds of ``label`` flagged by :func:`schedlab.lab.analysis.stats.is_overfitting`."""
        tr, va = self.series(label, "train_loss"), self.series(label, "val_loss")
        return sum(is_overfitting(tr[s], va[s]) for s in tr)


def ranking(
    results: Results,
    metric: str = "val_acc",
    baseline: str | None = None,
    *,
    tests: bool = False,
    sesoi: float | None = None,
) -> Ranking:
    """Every schedule of the experiment, best mean final ``metric`` first (NaN last): the one
    ranking of :func:`schedlab.lab.analysis.stats.rank_groups` over all its sweeps."""
    return rank_groups(
        results.curves, results.schedules, sweep="+".join(dict.fromkeys(results.sweeps.values())),
        statuses=results.statuses, baseline=baseline, metric=metric, tests=tests, sesoi=sesoi,
    )  # fmt: skip
