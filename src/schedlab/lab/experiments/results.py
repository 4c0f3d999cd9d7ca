"""The curves of an experiment's runs (all its sweeps), by schedule label and seed, and the
experiment-wide ranking built from them with :mod:`schedlab.lab.analysis.stats`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import METRICS, Estimate, Paired, is_overfitting, mean_ci, paired
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

    @classmethod
    def load(cls, store: RunStore, sweeps: Iterable[str]) -> Results:
        """Read the finished/diverged runs of ``sweeps`` from ``store``."""
        names: dict[str, str] = {}
        schedules: dict[str, str] = {}
        optimizers: dict[str, str] = {}
        curves: dict[str, dict[int, History]] = {}
        statuses: dict[str, dict[int, str]] = {}
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
        return cls(names, schedules, optimizers, curves, statuses)

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


def compare(results: Results, a: str, b: str, metric: str) -> Paired:
    """Paired-by-seed ``a - b`` of the final ``metric`` over the seeds both have."""
    fa, fb = results.final(a, metric), results.final(b, metric)
    seeds = sorted(set(fa) & set(fb))
    return paired([fa[s] for s in seeds], [fb[s] for s in seeds], b)


@dataclass(frozen=True)
class Row:
    """One schedule in the experiment-wide ranking."""

    label: str
    sweep: str
    optimizer: str
    schedule: str
    seeds: int
    final: Estimate
    best: Estimate
    vs_baseline: Paired | None
    diverged: int
    overfitting: int


def ranking(results: Results, metric: str = "val_acc", baseline: str | None = None) -> list[Row]:
    """Every schedule of the experiment, best mean final ``metric`` first (NaN last), with its
    95% t interval over seeds and the paired difference against ``baseline``."""
    if metric not in METRICS:
        raise ConfigError(f"ranking: metric must be one of {', '.join(METRICS)}; got {metric!r}")
    higher = METRICS[metric]
    rows = []
    for label in results.labels:
        series = results.series(label, metric)
        finals = [float(v[-1]) for v in series.values()]
        best_fn = np.nanmax if higher else np.nanmin
        bests = [float(best_fn(v)) if np.isfinite(v).any() else math.nan for v in series.values()]
        vs = compare(results, label, baseline, metric) if baseline and label != baseline else None
        rows.append(Row(
            label, results.sweeps[label], results.optimizers[label], results.schedules[label],
            len(finals), mean_ci(finals), mean_ci(bests), vs, results.diverged(label),
            results.overfitting(label),
        ))  # fmt: skip
    rows.sort(key=lambda r: (math.isnan(r.final.mean), -r.final.mean if higher else r.final.mean))
    return rows
