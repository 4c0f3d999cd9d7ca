"""The inference behind every comparison over seeds, all of it from ``scipy.stats``.

* **intervals**: the mean with its Student-t interval (:func:`mean_ci`); a paired difference with
  its t interval and two-sided paired t-test (:func:`paired`); a BCa bootstrap interval of the
  mean (:func:`bootstrap_ci`) beside it where outcomes are far from normal;
* **decisions**: Holm's step-down correction within a family of comparisons (:func:`holm`);
  equivalence by two one-sided tests against the smallest effect of interest (:func:`tost`), so
  that "no difference" can be a verdict; the exact sign test (:func:`sign_test`), which needs no
  normality and counts a diverged run as a loss whatever its value;
* **power**: the power of the paired t-test from the noncentral t (:func:`power`), the minimal
  detectable effect at the seeds run (:func:`minimal_detectable_effect`) and the seeds needed
  to detect a given effect (:func:`seeds_needed`).

:func:`compare_paired` does all of it for one pair of samples; :func:`adjust` applies Holm's
correction over a family of them; :func:`decide` turns one into a verdict.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq

from schedlab.errors import ConfigError


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` values with its confidence interval ``[low, high]`` (NaN when ``n < 2``)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Paired:
    """Paired-by-seed difference ``schedule - baseline``: mean, CI, t statistic, p-value, pairs."""

    baseline: str
    mean_diff: float
    low: float
    high: float
    t: float
    p_value: float
    n: int


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of ``values`` (NaN in, NaN out)."""
    if not 0 < confidence < 1:
        raise ConfigError(f"stats: confidence must be in (0, 1), got {confidence!r}")
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2 or not math.isfinite(mean):
        return Estimate(mean, math.nan, math.nan, n)
    half = float(sps.t.ppf((1 + confidence) / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def paired(
    x: Sequence[float], y: Sequence[float], baseline: str = "", confidence: float = 0.95
) -> Paired:
    """Paired comparison of ``x`` against ``y`` (same length, pair ``i`` = seed ``i``); an
    infinite or NaN difference leaves the interval, t and p undefined (NaN)."""
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN difference, reported as such
        d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    est = mean_ci(d, confidence)
    n, t, p = est.n, math.nan, math.nan
    if n >= 2 and math.isfinite(est.mean):
        sd = float(d.std(ddof=1))
        if sd > 0:
            t = est.mean / (sd / math.sqrt(n))
            p = float(2 * sps.t.sf(abs(t), n - 1))
        else:
            t = 0.0 if est.mean == 0 else math.copysign(math.inf, est.mean)
            p = 1.0 if est.mean == 0 else 0.0
    return Paired(baseline, est.mean, est.low, est.high, t, p, n)


# --- decisions: multiplicity, equivalence, robust checks, power ---------------------------------


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence).

    The ``k``-th smallest of ``m`` p-values is multiplied by ``m - k + 1`` (``k`` from 1), kept
    monotone (never below an earlier adjusted value) and capped at 1.  NaN stays NaN and does not
    count towards ``m``.  Reject ``H_i`` at level ``alpha`` when its adjusted value is ``<= alpha``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = idx.size
    running = 0.0
    for k, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - k) * float(p[i])))
        out[i] = running
    return [float(v) for v in out]


def tost(d: Sequence[float], margin: float) -> float:
    """p-value of the two one-sided tests (TOST) that the mean of ``d`` lies within
    ``(-margin, +margin)``: the larger of the one-sided t-tests of ``mean > -margin`` and
    ``mean < +margin`` (scipy's ``ttest_1samp``).  Below ``alpha`` the 1 - 2 ``alpha`` interval
    lies inside the margin: equivalence.  NaN with fewer than 2 values; without variance, 0 or 1."""
    x = np.asarray(d, dtype=np.float64)
    if not (margin > 0 and math.isfinite(margin)):
        raise ConfigError(f"tost: margin must be a finite number > 0; got {margin!r}")
    if x.size < 2 or not np.isfinite(x).all():
        return math.nan
    if float(x.std(ddof=1)) == 0:
        return 0.0 if abs(float(x.mean())) < margin else 1.0
    low = sps.ttest_1samp(x, -margin, alternative="greater").pvalue
    high = sps.ttest_1samp(x, margin, alternative="less").pvalue
    return float(max(low, high))


@dataclass(frozen=True)
class SignTest:
    """Two-sided exact sign test of the differences: positives, negatives, ties (dropped), p."""

    wins: int
    losses: int
    ties: int
    p_value: float


def sign_test(d: Sequence[float]) -> SignTest:
    """Exact two-sided sign test (scipy's ``binomtest`` of the positive among the nonzero
    differences against 1/2).  ``+inf``/``-inf`` count by their sign; NaN is dropped; p = 1 when
    every difference is 0."""
    x = np.asarray(d, dtype=np.float64)
    x = x[~np.isnan(x)]
    wins, losses = int((x > 0).sum()), int((x < 0).sum())
    ties = int(x.size) - wins - losses
    p = 1.0 if wins + losses == 0 else float(sps.binomtest(wins, wins + losses).pvalue)
    return SignTest(wins, losses, ties, p)


def bootstrap_ci(
    d: Sequence[float], confidence: float = 0.95, resamples: int = 9999, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of the mean of ``d``: scipy's ``bootstrap`` (BCa, ``resamples``, a fixed
    ``seed`` so that reports are reproducible).  NaN with fewer than 3 finite values or none of
    them different; BCa falls back to the percentile interval when it is undefined."""
    x = np.asarray(d, dtype=np.float64)
    if x.size < 3 or not np.isfinite(x).all():
        return math.nan, math.nan
    if float(np.ptp(x)) == 0:
        return float(x[0]), float(x[0])
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa's degenerate-distribution warning
            ci = sps.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=resamples,
                               method=method, rng=np.random.default_rng(seed)).confidence_interval  # fmt: skip
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return float(ci.low), float(ci.high)
    return math.nan, math.nan


def power(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample (paired) t-test at level ``alpha`` with ``n`` pairs to
    detect a true mean difference ``effect`` when the differences have standard deviation ``sd``:
    ``P(|T| > t_{1-alpha/2, n-1})`` with ``T`` noncentral t (``n - 1`` degrees, noncentrality
    ``effect * sqrt(n) / sd``; scipy's ``nct``)."""
    if n < 2 or not (sd > 0) or not math.isfinite(sd):
        return math.nan
    df, nc = n - 1, abs(effect) * math.sqrt(n) / sd
    crit = float(sps.t.ppf(1 - alpha / 2, df))
    with np.errstate(all="ignore"):
        upper = float(sps.nct.sf(crit, df, nc))
        lower = float(sps.nct.cdf(-crit, df, nc))
    if not math.isfinite(lower):  # far in the tail away from nc (scipy returns NaN there): ~0
        lower = 0.0
    if not math.isfinite(upper):  # not seen with scipy 1.17; the normal limit as a fallback
        upper = float(sps.norm.sf(crit - nc))
    return min(1.0, max(0.0, upper + lower))


def minimal_detectable_effect(
    sd: float, n: int, alpha: float = 0.05, target_power: float = 0.8
) -> float:
    """The smallest true mean difference the paired t-test detects with ``target_power`` (see
    :func:`power`), by root finding on the noncentral t; NaN without an sd or with ``n < 2``."""
    if n < 2 or not (sd > 0) or not math.isfinite(sd):
        return math.nan
    high = sd
    while power(high, sd, n, alpha) < target_power:
        high *= 2
    root = float(
        brentq(lambda e: power(e, sd, n, alpha) - target_power, 0.0, high, xtol=1e-12 * sd)
    )
    while power(root, sd, n, alpha) < target_power:  # the side of the root that has the power
        root *= 1 + 1e-12
    return root


def seeds_needed(
    effect: float, sd: float, alpha: float = 0.05, target_power: float = 0.8, limit: int = 100_000
) -> int | None:
    """The fewest pairs (seeds) with which the paired t-test detects ``effect`` with
    ``target_power``; ``None`` when more than ``limit`` are needed or nothing is known (no sd);
    2 when the differences have no variance."""
    if not math.isfinite(sd) or not math.isfinite(effect) or effect == 0:
        return None
    if sd == 0:
        return 2
    lo, hi = 2, 2
    while power(effect, sd, hi, alpha) < target_power:
        if hi >= limit:
            return None
        lo, hi = hi, min(limit, hi * 2)
    while lo < hi:  # power grows with n: the first n that reaches the target
        mid = (lo + hi) // 2
        if power(effect, sd, mid, alpha) >= target_power:
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass(frozen=True)
class Comparison:
    """A paired comparison with everything a decision needs (see :func:`compare_paired`).

    ``p_*`` are the raw p-values; ``p_*_adj`` the Holm-adjusted ones within the comparison's
    family (equal to the raw ones until :func:`adjust` is applied).  ``mde`` and
    ``seeds_needed`` are at the family's strictest Holm level ``alpha / m``.
    """

    a: str
    b: str
    n: int
    mean_diff: float
    low: float
    high: float
    sd: float
    t: float
    p_t: float
    sign: SignTest
    boot_low: float
    boot_high: float
    sesoi: float | None
    p_tost: float
    mde: float
    seeds_needed: int | None
    alpha: float
    family_size: int = 1
    #: the per-pair differences ``x_i - y_i`` the comparison rests on
    diffs: tuple[float, ...] = ()
    p_t_adj: float = math.nan
    p_sign_adj: float = math.nan
    p_tost_adj: float = math.nan

    @property
    def wins(self) -> int:
        return self.sign.wins


def compare_paired(
    x: Sequence[float],
    y: Sequence[float],
    *,
    a: str = "",
    b: str = "",
    sesoi: float | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
    target_power: float = 0.8,
    bootstrap: bool = True,
) -> Comparison:
    """``x - y`` paired by position: the t interval and test (:func:`paired`), the sign test, a
    bootstrap interval, TOST against ``sesoi`` (when given), the minimal detectable effect at
    this ``n`` and the seeds needed to detect ``sesoi``, all at level ``alpha`` (two-sided)."""
    with np.errstate(invalid="ignore"):
        d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    base = paired(x, y, b, confidence)
    finite = d[np.isfinite(d)] if np.isfinite(d).all() else np.array([])
    sd = float(finite.std(ddof=1)) if finite.size >= 2 else math.nan
    boot = bootstrap_ci(d, confidence) if bootstrap else (math.nan, math.nan)
    p_tost = tost(d, sesoi) if sesoi else math.nan
    out = Comparison(
        a=a, b=b, n=int(d.size), mean_diff=base.mean_diff, low=base.low, high=base.high, sd=sd,
        t=base.t, p_t=base.p_value, sign=sign_test(d), boot_low=boot[0], boot_high=boot[1],
        sesoi=sesoi, p_tost=p_tost, mde=math.nan, seeds_needed=None, alpha=alpha,
        diffs=tuple(float(v) for v in d),
    )  # fmt: skip
    return adjust([out], target_power=target_power)[0]


def adjust(comparisons: Sequence[Comparison], target_power: float = 0.8) -> list[Comparison]:
    """The comparisons of one family with Holm-adjusted p-values (t-test, sign test, TOST each
    adjusted over the family) and the power figures at the strictest Holm level ``alpha / m``."""
    m = len(comparisons)
    p_t = holm([c.p_t for c in comparisons])
    p_sign = holm([c.sign.p_value for c in comparisons])
    p_tost = holm([c.p_tost for c in comparisons])
    out = []
    for i, c in enumerate(comparisons):
        level = c.alpha / m
        mde = minimal_detectable_effect(c.sd, c.n, level, target_power)
        need = seeds_needed(c.sesoi, c.sd, level, target_power) if c.sesoi else None
        out.append(replace(c, family_size=m, p_t_adj=p_t[i], p_sign_adj=p_sign[i],
                           p_tost_adj=p_tost[i], mde=mde, seeds_needed=need))  # fmt: skip
    return out


#: the verdicts of :func:`decide`: ``a`` better than ``b``, worse, equivalent within the SESOI, or
#: not known at these seeds
BETTER, WORSE, NO_DIFFERENCE, INCONCLUSIVE = "better", "worse", "no difference", "inconclusive"


def decide(c: Comparison, sign: int = 1, chaotic: bool = False) -> str:
    """The verdict on ``sign * (a - b) > 0`` ("``a`` is better") from the Holm-adjusted
    p-values at the comparison's ``alpha``: :data:`NO_DIFFERENCE` when TOST shows the effect
    within +-SESOI (whether or not it is also significant); else :data:`BETTER` or
    :data:`WORSE` when the t-test is significant on that side (``chaotic``: the sign test must
    agree; without a finite t-test, the sign test alone decides); else :data:`INCONCLUSIVE`
    (also with fewer than 2 pairs)."""
    if c.n < 2:
        return INCONCLUSIVE
    t_ok = not math.isnan(c.p_t_adj)
    significant = (
        (c.p_t_adj <= c.alpha and (not chaotic or c.p_sign_adj <= c.alpha))
        if t_ok
        else c.p_sign_adj <= c.alpha
    )
    direction = c.mean_diff if t_ok else (c.sign.wins - c.sign.losses)
    if not math.isnan(c.p_tost_adj) and c.p_tost_adj <= c.alpha:
        return NO_DIFFERENCE
    if significant and direction * sign > 0:
        return BETTER
    if significant and direction * sign < 0:
        return WORSE
    return INCONCLUSIVE
