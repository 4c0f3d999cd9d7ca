"""Statistics over seeds: which schedule is better, by how much, and how sure we are.

For each schedule of a sweep (runs that are ``finished`` or ``diverged``):

* **final** and **best** value of the metric (last epoch; best epoch), as mean +- a Student-t
  confidence interval over seeds: ``mean +- t_{(1+c)/2, n-1} * s / sqrt(n)`` (``s`` the sample
  standard deviation, ``c`` = 0.95);
* a **paired comparison** with the baseline schedule, paired by seed: ``d_i = x_i - b_i`` over the
  seeds both have, mean difference with its t interval and the two-sided paired t-test p-value
  (``t = mean(d) / (s_d / sqrt(n))``, ``n - 1`` degrees; scipy's ``ttest_rel``).  All-zero
  differences give ``p = 1``; constant non-zero differences ``p = 0``;
* **epochs to target**: the number of epochs after which the metric first reaches ``target``
  (``>=`` for accuracies, ``<=`` for losses), averaged over the seeds that reach it;
* flags: **diverged** (a NaN/inf loss was seen) and **overfitting** (see :func:`is_overfitting`).

A diverged run's loss is NaN, so a loss-metric mean that includes it is NaN and ranks last.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.analysis.inference import (
    Comparison,
    Estimate,
    Paired,
    adjust,
    compare_paired,
    decide,
    mean_ci,
    paired,
)
from schedlab.lab.runs.store import DONE, RunStore
from schedlab.schedules.plateau import policy_from_spec
from schedlab.validate import is_finite_real

#: metric name -> whether higher is better.
METRICS: dict[str, bool] = {
    "val_acc": True,
    "val_loss": False,
    "train_acc": True,
    "train_loss": False,
}
#: the suffixes of a metric of the user's own (``"val_f1:max"``): which way is better
DIRECTIONS: dict[str, bool] = {"max": True, "min": False}
OVERFIT_WINDOW = 3


def metric_direction(metric: str) -> tuple[str, bool]:
    """``(name, higher_is_better)`` of a ranking metric: one of :data:`METRICS`, or a metric of
    the user's own with its direction, ``"val_f1:max"`` / ``"val_mae:min"`` (a built-in may carry
    its own direction, ``"val_loss:min"``)."""
    if not isinstance(metric, str):
        raise ConfigError(f"metric must be a string; got {metric!r}")
    name, _, suffix = metric.partition(":")
    if suffix and suffix not in DIRECTIONS:
        raise ConfigError(
            f"metric {metric!r}: the direction after ':' must be 'max' or 'min'; got {suffix!r}"
        )
    if name in METRICS:
        if suffix and DIRECTIONS[suffix] != METRICS[name]:
            raise ConfigError(
                f"metric {metric!r}: {name} is {'higher' if METRICS[name] else 'lower'}-is-better "
                f"(use {name!r})"
            )
        return name, METRICS[name]
    if not suffix or not name.isidentifier():
        raise ConfigError(
            f"metric must be one of {', '.join(METRICS)}, or a metric of your own with the "
            f"direction that is better, e.g. 'val_f1:max' or 'val_mae:min'; got {metric!r}"
        )
    return name, DIRECTIONS[suffix]


def metric_key(name: str, higher_is_better: bool) -> str:
    """The text :func:`metric_direction` reads back as ``(name, higher_is_better)``."""
    if name in METRICS:
        return name
    return f"{name}:{'max' if higher_is_better else 'min'}"


OVERFIT_RISE = 0.01


def epochs_to_target(values: Sequence[float], target: float, higher_is_better: bool) -> int | None:
    """Epochs completed when ``values`` (one per epoch) first reach ``target``; ``None`` if never."""
    for i, v in enumerate(values):
        if v is not None and (v >= target if higher_is_better else v <= target):
            return i + 1
    return None


def _slope(y: np.ndarray) -> float:
    x = np.arange(y.size, dtype=np.float64)
    return float(np.polyfit(x, y, 1)[0])


def is_overfitting(
    train_loss: Sequence[float],
    val_loss: Sequence[float],
    window: int = OVERFIT_WINDOW,
    rise: float = OVERFIT_RISE,
) -> bool:
    """Validation loss rising while training loss falls at the end of a run.

    True when the run has at least ``window`` epochs, all finite, and over its last ``window``
    epochs the least-squares slope of the validation loss is > 0 and that of the training loss is
    < 0, and the final validation loss is more than ``rise`` (relative) above its minimum.
    """
    tr = np.asarray(train_loss, dtype=np.float64)
    va = np.asarray(val_loss, dtype=np.float64)
    if va.size < window or not (np.isfinite(tr).all() and np.isfinite(va).all()):
        return False
    tail_tr, tail_va = tr[-window:], va[-window:]
    return bool(_slope(tail_va) > 0 and _slope(tail_tr) < 0 and va[-1] > (1 + rise) * va.min())


def _canonical(spec: str) -> str | None:
    try:
        return repr(policy_from_spec(spec))
    except ValueError:
        return None


@dataclass(frozen=True)
class ScheduleResult:
    """The statistics of one schedule of a sweep (see the module docstring)."""

    label: str
    schedule: str
    seeds: tuple[int, ...]
    final: Estimate
    best: Estimate
    vs_baseline: Paired | None
    epochs_to_target: Estimate | None
    reached: int
    diverged: int
    overfitting: int
    #: the decision-grade comparison with the baseline (``rank(..., tests=True)``), else None
    tests: Comparison | None = None
    #: with ``tests``: "better", "worse" (than the baseline, by the metric's direction), "no
    #: difference" (TOST within the SESOI) or "inconclusive" (see :func:`inference.decide`)
    verdict: str | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        """Human-readable warnings, e.g. ``("diverged 1/3",)``."""
        n = len(self.seeds)
        out = []
        if self.diverged:
            out.append(f"diverged {self.diverged}/{n}")
        if self.overfitting:
            out.append(f"overfitting {self.overfitting}/{n}")
        return tuple(out)


@dataclass(frozen=True)
class Ranking:
    """Schedules of a sweep, best first by mean final metric (NaN last).

    A sequence of its rows: ``ranking[0]`` is the best schedule's :class:`ScheduleResult`,
    ``[r.label for r in ranking]`` the labels in order.
    """

    sweep: str
    metric: str
    higher_is_better: bool
    baseline: str | None
    target: float | None
    target_source: str
    rows: tuple[ScheduleResult, ...]
    incomplete: int
    #: whether each row was also decided (``rank(..., tests=True)``) and at which SESOI
    tests: bool = False
    sesoi: float | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ScheduleResult]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> ScheduleResult:
        return self.rows[index]

    @property
    def labels(self) -> list[str]:
        """The schedule labels, best first."""
        return [r.label for r in self.rows]

    @property
    def metric_key(self) -> str:
        """The metric with its direction where it is the user's (``"val_f1:max"``): what
        ``rank(metric=...)`` takes to rank the same way."""
        return metric_key(self.metric, self.higher_is_better)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (NaN kept as float NaN)."""
        out = asdict(self)
        for row, item in zip(self.rows, out["rows"], strict=True):
            item["flags"] = list(row.flags)
        return out


def _run_values(epochs: Sequence[Any], metric: str) -> list[float]:
    return [math.nan if (v := _value(e, metric)) is None else float(v) for e in epochs]


def _value(epoch: Any, metric: str) -> Any:
    return epoch.metric(metric) if hasattr(epoch, "metric") else getattr(epoch, metric)


#: per label, per seed: one run's epochs (store rows)
Groups = Mapping[str, Mapping[int, Sequence[Any]]]


def rank(
    store: RunStore,
    sweep: str,
    *,
    baseline: str | None = None,
    metric: str = "val_acc",
    target: float | None = None,
    confidence: float = 0.95,
    tests: bool = False,
    sesoi: float | None = None,
) -> Ranking:
    """Rank the schedules of ``sweep`` by the mean final ``metric`` over seeds.

    Args:
        baseline: a label or schedule spec of the sweep; default: the first ``constant`` schedule
            (no paired comparison when the sweep has none).
        metric: one of ``val_acc``, ``val_loss``, ``train_acc``, ``train_loss``; ``val_acc`` on a
            regression sweep (no accuracies stored) uses ``val_loss``.  A metric of the user's
            own (stored as ``val_<name>``) with the direction that is better: ``"val_f1:max"``,
            ``"val_mae:min"`` (see :func:`metric_direction`).
        target: metric value for epochs-to-target; default: the baseline's mean final metric.
        tests: also decide each comparison with the baseline as the experiments do (Holm over
            the ranking's comparisons, sign test, bootstrap interval, power; see
            :func:`rank_groups`).  Off by default: the t interval and p-value alone are cheap.
        sesoi: the smallest effect of interest (metric units; implies ``tests``): TOST
            equivalence ("no difference" becomes a verdict) and the seeds needed to detect it.
    """
    runs = store.runs(sweep)
    done = [r for r in runs if r.status in DONE]
    groups: dict[str, dict[int, Sequence[Any]]] = {}
    schedules: dict[str, str] = {}
    statuses: dict[str, dict[int, str]] = {}
    for r in done:
        if history := store.epochs(r.id):
            groups.setdefault(r.label, {})[int(r.seed)] = history
            statuses.setdefault(r.label, {})[int(r.seed)] = r.status
        schedules[r.label] = r.schedule
    return rank_groups(
        groups, schedules, sweep=sweep, statuses=statuses, baseline=baseline, metric=metric,
        target=target, confidence=confidence, tests=tests, sesoi=sesoi,
        incomplete=len(runs) - len(done),
    )  # fmt: skip


def rank_groups(
    groups: Groups,
    schedules: Mapping[str, str],
    *,
    sweep: str = "",
    statuses: Mapping[str, Mapping[int, str]] | None = None,
    baseline: str | None = None,
    metric: str = "val_acc",
    target: float | None = None,
    confidence: float = 0.95,
    tests: bool = False,
    sesoi: float | None = None,
    alpha: float = 0.05,
    incomplete: int = 0,
) -> Ranking:
    """The ranking of ``groups`` (label -> seed -> epochs; ``schedules``: label -> canonical text),
    whichever sweeps they come from: :func:`rank` for one sweep of a store, the experiments for
    all of theirs.  With ``tests`` every row's comparison with the baseline is also a
    :class:`Comparison` (Holm-adjusted over the ranking's comparisons)."""
    metric, higher = metric_direction(metric)
    if metric not in METRICS:
        _check_stored(groups, metric, sweep)
    elif metric.endswith("_acc") and all(
        _value(e, metric) is None for seeds in groups.values() for h in seeds.values() for e in h
    ):
        metric = metric.replace("_acc", "_loss")
        higher = METRICS[metric]
    check_sesoi(sesoi)
    tests = tests or sesoi is not None
    base_label = find_baseline(baseline, dict(schedules)) if schedules else None
    finals = {
        label: {seed: _run_values(h, metric)[-1] for seed, h in seeds.items() if h}
        for label, seeds in groups.items()
    }
    target_source = "given"
    if target is None and base_label is not None and base_label in finals:
        target = mean_ci(list(finals[base_label].values())).mean
        target_source = f"mean final {metric} of the baseline {base_label!r}"
        if math.isnan(target):
            target, target_source = None, "none (the baseline has no finite final value)"
    elif target is None:
        target_source = "none"
    rows = [
        _schedule_result(label, schedules[label], groups[label], (statuses or {}).get(label, {}),
                         metric, higher, finals, base_label, target, confidence)
        for label in groups
    ]  # fmt: skip
    if tests and base_label is not None and base_label in finals:
        rows = _with_tests(rows, finals, base_label, higher, sesoi, confidence, alpha)
    rows.sort(key=lambda r: (math.isnan(r.final.mean), -r.final.mean if higher else r.final.mean))
    return Ranking(
        sweep, metric, higher, base_label, target, target_source, tuple(rows), incomplete,
        tests, sesoi,
    )  # fmt: skip


def check_sesoi(sesoi: Any) -> None:
    """The smallest effect of interest must be a finite number > 0 (metric units) or None."""
    if sesoi is not None and not (is_finite_real(sesoi) and sesoi > 0):
        raise ConfigError(
            f"sesoi must be a finite number > 0 (the smallest difference of the metric that "
            f"matters, e.g. 0.005 for half a point of accuracy); got {sesoi!r}"
        )


def _check_stored(groups: Groups, metric: str, sweep: str) -> None:
    """A metric of the user's own must be stored in at least one epoch of the sweep."""
    stored: set[str] = set()
    for seeds in groups.values():
        for history in seeds.values():
            for e in history:
                if _value(e, metric) is not None:
                    return
                stored.update(getattr(e, "extra", {}) or {})
    if groups:
        names = ", ".join(sorted({*METRICS, *stored}))
        raise ConfigError(
            f"rank: metric {metric!r} is not stored in sweep {sweep!r}; stored: {names}"
        )


def _with_tests(
    rows: list[ScheduleResult],
    finals: Mapping[str, Mapping[int, float]],
    base: str,
    higher: bool,
    sesoi: float | None,
    confidence: float,
    alpha: float,
) -> list[ScheduleResult]:
    """``rows`` with their comparison ``row - base`` as a :class:`Comparison`, Holm-adjusted over
    all of them, and its verdict."""
    others = [r for r in rows if r.label != base]
    raw = []
    for r in others:
        seeds = [s for s in finals[r.label] if s in finals[base]]
        x = [finals[r.label][s] for s in seeds]
        y = [finals[base][s] for s in seeds]
        raw.append(compare_paired(x, y, a=r.label, b=base, sesoi=sesoi, confidence=confidence,
                                  alpha=alpha))  # fmt: skip
    adjusted = dict(zip((r.label for r in others), adjust(raw), strict=True))
    sign = 1 if higher else -1
    return [
        replace(r, tests=c, verdict=decide(c, sign)) if (c := adjusted.get(r.label)) else r
        for r in rows
    ]


def find_baseline(baseline: str | None, schedules: dict[str, str]) -> str | None:
    """The label of the baseline among ``schedules`` (label -> canonical text): ``baseline`` as a
    label or a spec, or by default the first ``constant`` schedule (``None`` if there is none)."""
    if baseline is None:
        return next((lb for lb, s in schedules.items() if s.startswith("constant(")), None)
    if baseline in schedules:
        return baseline
    canonical = _canonical(baseline)
    for label, schedule in schedules.items():
        if schedule == canonical:
            return label
    raise ConfigError(
        f"rank: baseline must be a label or schedule of the sweep ({', '.join(map(repr, schedules))}); "
        f"got {baseline!r}"
    )


def _schedule_result(
    label: str,
    schedule: str,
    histories: Mapping[int, Sequence[Any]],
    statuses: Mapping[int, str],
    metric: str,
    higher: bool,
    finals: dict[str, dict[int, float]],
    base_label: str | None,
    target: float | None,
    confidence: float,
) -> ScheduleResult:
    seeds = [s for s, h in histories.items() if h]
    values = [_run_values(histories[s], metric) for s in seeds]
    best_fn = np.nanmax if higher else np.nanmin
    bests = [float(best_fn(v)) if not np.isnan(v).all() else math.nan for v in values]
    vs = None
    if base_label is not None and base_label != label and base_label in finals:
        base = finals[base_label]
        common = [s for s in finals[label] if s in base]
        vs = paired(
            [finals[label][s] for s in common], [base[s] for s in common], base_label, confidence
        )
    hits = [] if target is None else [epochs_to_target(v, target, higher) for v in values]
    reached = [h for h in hits if h is not None]
    diverged = sum(
        statuses.get(s) == "diverged" or any(e.diverged for e in histories[s]) for s in seeds
    )
    overfit = sum(
        is_overfitting(
            _run_values(histories[s], "train_loss"), _run_values(histories[s], "val_loss")
        )
        for s in seeds
    )
    return ScheduleResult(
        label=label,
        schedule=schedule,
        seeds=tuple(int(s) for s in seeds),
        final=mean_ci([v[-1] for v in values], confidence),
        best=mean_ci(bests, confidence),
        vs_baseline=vs,
        epochs_to_target=mean_ci(reached, confidence) if reached else None,
        reached=len(reached),
        diverged=int(diverged),
        overfitting=int(overfit),
    )
