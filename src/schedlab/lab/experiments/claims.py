"""Source claims and how each is judged: ``confirmed``, ``refuted`` or ``inconclusive``.

Every judgement rests on the per-seed final values (95% Student-t intervals, paired by seed, as in
:mod:`schedlab.lab.analysis.stats`):

* :class:`Better` — "A beats B": paired difference of the final metric.  Confirmed when its 95%
  interval lies on A's side of 0 (equivalently p < 0.05 in the paired t-test), refuted when it lies
  on B's side, inconclusive when it contains 0 (or fewer than 2 seeds).
* :class:`Best` — "A beats every other": one :class:`Better` per rival.  Confirmed when all are
  confirmed, refuted when some rival is significantly better, inconclusive otherwise.
* :class:`Overfits` — per seed the *rise* ``final val_loss / min val_loss - 1``.  Confirmed when its
  interval lies above :data:`RISE` (1%) and the training loss fell after the validation minimum,
  refuted when it lies below 1%, inconclusive otherwise.
* :class:`DivergesOrOverfitsEarly` — confirmed when most seeds diverge (NaN/inf loss), or when the
  rise is significant and the validation minimum comes in the first quarter of training; refuted
  when nothing diverges and the rise is below 1%, or is not significant while the minimum comes in
  the second half of training.

Subjects are schedule labels; ``@key`` names a label chosen by an earlier stage (``context[key]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import METRICS, Paired, mean_ci
from schedlab.lab.experiments.results import Results, compare

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"
VERDICTS: tuple[str, ...] = (CONFIRMED, REFUTED, INCONCLUSIVE)
#: relative rise of the validation loss above its minimum that counts as overfitting (1%).
RISE = 0.01


@dataclass(frozen=True)
class Verdict:
    """The judgement of one claim, with the numbers that decide it."""

    claim: str
    about: str
    verdict: str
    evidence: str
    numbers: dict[str, Any] = field(default_factory=dict)


class Claim(Protocol):
    """A source claim that can be judged on an experiment's results."""

    text: str

    def judge(self, results: Results, context: Mapping[str, Any]) -> Verdict: ...


def resolve(label: str, context: Mapping[str, Any]) -> str:
    """``@key`` -> ``context[key]``; any other label as is."""
    if label.startswith("@"):
        key = label[1:]
        if key not in context:
            raise ConfigError(
                f"claim: {label!r} names no chosen schedule; context has {sorted(context)}"
            )
        return str(context[key])
    return label


def _fmt(x: float, sign: bool = False) -> str:
    return "nan" if math.isnan(x) else (f"{x:+.4f}" if sign else f"{x:.4f}")


def describe(p: Paired, metric: str) -> str:
    """``Δ val_acc +0.0123 [+0.0050, +0.0196], p=0.012, n=3``."""
    pv = "-" if math.isnan(p.p_value) else ("<1e-4" if p.p_value < 1e-4 else f"{p.p_value:.3g}")
    return (
        f"Δ {metric} {_fmt(p.mean_diff, True)} [{_fmt(p.low, True)}, {_fmt(p.high, True)}], "
        f"p={pv}, n={p.n}"
    )


def decide(p: Paired, higher_is_better: bool) -> str:
    """Confirmed / refuted / inconclusive from a paired difference ``a - b`` ("a beats b")."""
    if p.n < 2 or math.isnan(p.low) or math.isnan(p.high):
        return INCONCLUSIVE
    low, high = (p.low, p.high) if higher_is_better else (-p.high, -p.low)
    if low > 0:
        return CONFIRMED
    if high < 0:
        return REFUTED
    return INCONCLUSIVE


def _diverged_side(results: Results, a: str, b: str) -> str | None:
    """When NaN finals (divergence) make the paired test impossible: a verdict if one side
    diverged in every seed and the other in none."""
    da, db = results.diverged(a), results.diverged(b)
    na, nb = len(results.require(a)), len(results.require(b))
    if da == na and db == 0:
        return REFUTED
    if db == nb and da == 0:
        return CONFIRMED
    return None


@dataclass(frozen=True)
class Better:
    """ "``a`` ends better than ``b``" on the final ``metric`` (paired by seed)."""

    text: str
    a: str
    b: str
    metric: str = "val_acc"

    def judge(self, results: Results, context: Mapping[str, Any]) -> Verdict:
        a, b = resolve(self.a, context), resolve(self.b, context)
        p = compare(results, a, b, self.metric)
        verdict = decide(p, METRICS[self.metric])
        note = ""
        if math.isnan(p.mean_diff):
            side = _diverged_side(results, a, b)
            verdict, note = (
                side or INCONCLUSIVE,
                (f"; diverged seeds: {a} {results.diverged(a)}, {b} {results.diverged(b)}"),
            )
        fa, fb = results.final(a, self.metric), results.final(b, self.metric)
        wins = sum(
            (fa[s] > fb[s]) if METRICS[self.metric] else (fa[s] < fb[s]) for s in fa if s in fb
        )
        return Verdict(
            self.text, f"{a} vs {b}", verdict,
            f"{a} - {b}: {describe(p, self.metric)} (wins {wins}/{p.n}){note}",
            {"a": a, "b": b, "metric": self.metric, "mean_diff": p.mean_diff, "low": p.low,
             "high": p.high, "p": p.p_value, "n": p.n, "wins": wins},
        )  # fmt: skip


@dataclass(frozen=True)
class Best:
    """ "``a`` ends better than each of ``rivals``" (one paired comparison per rival)."""

    text: str
    a: str
    rivals: tuple[str, ...]
    metric: str = "val_acc"

    def judge(self, results: Results, context: Mapping[str, Any]) -> Verdict:
        a = resolve(self.a, context)
        rivals = [resolve(r, context) for r in self.rivals if resolve(r, context) != a]
        judged = [Better("", a, r, self.metric).judge(results, context) for r in rivals]
        verdicts = [v.verdict for v in judged]
        if verdicts and all(v == CONFIRMED for v in verdicts):
            verdict = CONFIRMED
        elif REFUTED in verdicts:
            verdict = REFUTED
        else:
            verdict = INCONCLUSIVE
        # the decisive comparisons: those that refute, else those not confirmed, else the closest
        shown = [v for v in judged if v.verdict == REFUTED] or [
            v for v in judged if v.verdict == INCONCLUSIVE
        ]
        if not shown and judged:
            shown = [min(judged, key=lambda v: v.numbers["mean_diff"])]
        counts = ", ".join(f"{verdicts.count(k)} {k}" for k in VERDICTS if verdicts.count(k))
        return Verdict(
            self.text, f"{a} vs {', '.join(rivals)}", verdict,
            f"vs {len(rivals)} rivals: {counts}. " + "; ".join(v.evidence for v in shown),
            {"a": a, "comparisons": [v.numbers for v in judged]},
        )  # fmt: skip


def _rise(results: Results, label: str) -> tuple[list[float], list[float], list[int]]:
    """Per seed: relative rise of val loss above its minimum, relative fall of train loss after
    the epoch of that minimum, and that epoch (1-based).  Diverged seeds are skipped."""
    va, tr = results.series(label, "val_loss"), results.series(label, "train_loss")
    rises, falls, at = [], [], []
    for seed, v in va.items():
        if not np.isfinite(v).all() or not np.isfinite(tr[seed]).all():
            continue
        i = int(np.argmin(v))
        rises.append(float(v[-1] / v[i] - 1))
        falls.append(float(1 - tr[seed][-1] / tr[seed][i]))
        at.append(i + 1)
    return rises, falls, at


@dataclass(frozen=True)
class Overfits:
    """ "``a`` overfits": validation loss ends clearly above its minimum while training loss falls."""

    text: str
    a: str

    def judge(self, results: Results, context: Mapping[str, Any]) -> Verdict:
        a = resolve(self.a, context)
        rises, falls, at = _rise(results, a)
        est = mean_ci(rises)
        fall = float(np.mean(falls)) if falls else math.nan
        if est.n < 2 or math.isnan(est.low):
            verdict = INCONCLUSIVE
        elif est.low > RISE and fall > 0:
            verdict = CONFIRMED
        elif est.high < RISE:
            verdict = REFUTED
        else:
            verdict = INCONCLUSIVE
        epochs = len(next(iter(results.require(a).values())))
        return Verdict(
            self.text, a, verdict,
            f"{a}: val_loss ends {_pct(est.mean)} above its minimum [{_pct(est.low)}, "
            f"{_pct(est.high)}] (n={est.n}; threshold {_pct(RISE)}); minimum at epoch "
            f"{_mean(at)}/{epochs}; train loss fell {_pct(fall)} after it; "
            f"overfitting flag {results.overfitting(a)}/{len(results.require(a))} seeds",
            {"label": a, "rise": est.mean, "low": est.low, "high": est.high, "n": est.n,
             "train_fall": fall, "min_epoch": at, "epochs": epochs},
        )  # fmt: skip


@dataclass(frozen=True)
class DivergesOrOverfitsEarly:
    """ "``a`` diverges or overfits quickly"."""

    text: str
    a: str
    early: float = 0.25

    def judge(self, results: Results, context: Mapping[str, Any]) -> Verdict:
        a = resolve(self.a, context)
        n = len(results.require(a))
        div = results.diverged(a)
        rises, _, at = _rise(results, a)
        est = mean_ci(rises)
        epochs = len(next(iter(results.require(a).values())))
        where = float(np.mean(at)) / epochs if at else math.nan
        significant = est.n >= 2 and est.low > RISE
        if div * 2 > n or (significant and where <= self.early):
            verdict = CONFIRMED
        elif div == 0 and est.n >= 2 and (est.high < RISE or (where > 0.5 and not significant)):
            verdict = REFUTED
        else:
            verdict = INCONCLUSIVE
        return Verdict(
            self.text, a, verdict,
            f"{a}: diverged {div}/{n}; val_loss ends {_pct(est.mean)} above its minimum "
            f"[{_pct(est.low)}, {_pct(est.high)}]; minimum at epoch {_mean(at)}/{epochs} "
            f"(early = first {self.early:.0%})",
            {"label": a, "diverged": div, "n": n, "rise": est.mean, "low": est.low,
             "high": est.high, "min_epoch": at, "epochs": epochs},
        )  # fmt: skip


def _pct(x: float) -> str:
    return "nan" if math.isnan(x) else f"{100 * x:+.1f}%"


def _mean(values: Sequence[int]) -> str:
    return "-" if not values else f"{np.mean(values):.1f}"


def judge_all(
    claims: Sequence[Claim], results: Results, context: Mapping[str, Any]
) -> list[Verdict]:
    """Judge every claim; a claim whose schedules have no results is inconclusive, saying why."""
    out = []
    for claim in claims:
        try:
            out.append(claim.judge(results, context))
        except ValueError as err:
            out.append(Verdict(claim.text, "-", INCONCLUSIVE, f"not judged: {err}"))
    return out
