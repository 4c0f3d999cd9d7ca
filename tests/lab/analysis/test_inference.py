"""The decision statistics against scipy.stats and known numbers: Holm, TOST, the sign test, the
bootstrap interval, power, the minimal detectable effect and the seeds needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from schedlab.lab.analysis import inference as inf

unit = st.floats(0.0, 1.0, allow_nan=False)
finite = st.floats(-10.0, 10.0, allow_nan=False)


# -- Holm -----------------------------------------------------------------------------------------
def test_holm_known_numbers() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    assert inf.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert inf.holm([0.5, 0.9]) == [1.0, 1.0]
    assert inf.holm([]) == []
    out = inf.holm([0.01, math.nan, 0.02])  # NaN does not count: m = 2
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


def _step_down_rejects(p: list[float], alpha: float) -> set[int]:
    """Holm's procedure as written: reject the k-th smallest while p_(k) <= alpha / (m - k + 1)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out = set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        out.add(i)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(unit, min_size=1, max_size=12), st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_adjusted_values_reject_what_the_procedure_rejects(p, alpha) -> None:
    adjusted = inf.holm(p)
    assert {i for i, q in enumerate(adjusted) if q <= alpha} == _step_down_rejects(p, alpha)
    assert all(q >= x - 1e-15 for q, x in zip(adjusted, p, strict=True))
    assert max(adjusted) <= 1.0


# -- TOST -----------------------------------------------------------------------------------------
def test_tost_known_numbers() -> None:
    d = np.array([0.001, -0.002, 0.0015, 0.0005, -0.001, 0.002, 0.0, -0.0005, 0.001, 0.0])
    p = inf.tost(d, 0.005)
    low = sps.ttest_1samp(d, -0.005, alternative="greater").pvalue
    high = sps.ttest_1samp(d, 0.005, alternative="less").pvalue
    assert p == pytest.approx(max(low, high), rel=1e-12) and p < 1e-4
    assert inf.tost(d + 0.01, 0.005) > 0.5  # shifted out of the margin
    assert math.isnan(inf.tost([0.1], 0.5))
    assert inf.tost([0.1, 0.1], 0.5) == 0.0 and inf.tost([0.9, 0.9], 0.5) == 1.0
    with pytest.raises(ValueError, match="tost: margin must be a finite number > 0; got 0"):
        inf.tost(d, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=3, max_size=15), st.floats(0.1, 5.0))
def test_tost_is_the_90_interval_inside_the_margin(values, margin) -> None:
    x = np.array(values)
    assume(np.std(x) > 1e-6)
    low, high = sps.t.interval(0.90, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    inside = -margin < low and high < margin
    p = inf.tost(x, margin)
    assume(abs(p - 0.05) > 1e-9)  # on the boundary the two agree only to rounding
    assert (p < 0.05) == inside


# -- sign test and bootstrap ----------------------------------------------------------------------
def test_sign_test_known_numbers() -> None:
    nine = inf.sign_test([1.0] * 9 + [-1.0])
    assert (nine.wins, nine.losses, nine.ties) == (9, 1, 0)
    assert nine.p_value == pytest.approx(22 / 1024)  # 2 * (1 + 10) / 2**10
    assert inf.sign_test([1.0] * 8 + [-1.0] * 2).p_value == pytest.approx(0.109375)
    tied = inf.sign_test([0.0, 0.0, 1.0, math.inf, -math.inf, math.nan])
    assert (tied.wins, tied.losses, tied.ties) == (2, 1, 2) and tied.p_value == 1.0
    assert inf.sign_test([0.0, 0.0]).p_value == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20))
def test_sign_test_matches_binomtest(values) -> None:
    x = np.array(values)
    k, n = int((x > 0).sum()), int((x != 0).sum())
    expected = 1.0 if n == 0 else sps.binomtest(k, n).pvalue
    assert inf.sign_test(values).p_value == pytest.approx(expected, rel=1e-12)


def test_bootstrap_matches_scipy_and_is_reproducible() -> None:
    d = np.array([0.3, 0.1, -0.2, 0.5, 0.25, 0.05, 0.4, -0.1, 0.2, 0.15])
    low, high = inf.bootstrap_ci(d)
    ref = sps.bootstrap((d,), np.mean, n_resamples=9999, method="BCa",
                        rng=np.random.default_rng(0)).confidence_interval  # fmt: skip
    assert (low, high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert low < d.mean() < high and inf.bootstrap_ci(d) == (low, high)
    assert inf.bootstrap_ci([0.2, 0.2, 0.2]) == (0.2, 0.2)
    assert all(math.isnan(v) for v in inf.bootstrap_ci([0.1, 0.2]))
    assert all(math.isnan(v) for v in inf.bootstrap_ci([0.1, 0.2, math.inf]))


# -- power ----------------------------------------------------------------------------------------
def test_power_known_numbers() -> None:
    # paired t, two-sided 0.05: dz = 1 with 10 pairs has power 0.803 (G*Power); dz = 0.5 needs 34
    assert inf.power(1.0, 1.0, 10) == pytest.approx(0.8031, abs=5e-4)
    assert inf.seeds_needed(0.5, 1.0) == 34
    assert inf.seeds_needed(1.0, 1.0) == 10
    assert inf.minimal_detectable_effect(1.0, 10) == pytest.approx(0.9962, abs=1e-3)
    assert math.isnan(inf.power(1.0, 0.0, 10)) and math.isnan(inf.minimal_detectable_effect(0, 5))
    assert inf.seeds_needed(1.0, 0.0) == 2 and inf.seeds_needed(1e-9, 1.0) is None
    assert inf.power(0.0, 1.0, 10) == pytest.approx(0.05)  # no effect: the level


def test_power_agrees_with_simulation() -> None:
    rng = np.random.default_rng(1)
    n, effect, sd, alpha = 8, 0.7, 1.0, 0.05
    d = rng.normal(effect, sd, size=(40_000, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    simulated = float(np.mean(np.abs(t) > sps.t.ppf(1 - alpha / 2, n - 1)))
    assert inf.power(effect, sd, n, alpha) == pytest.approx(simulated, abs=0.01)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 10.0), st.integers(2, 60), st.sampled_from([0.05, 0.01, 0.05 / 18]))
def test_mde_and_seeds_needed_invert_power(sd, n, alpha) -> None:
    mde = inf.minimal_detectable_effect(sd, n, alpha)
    assert inf.power(mde, sd, n, alpha) == pytest.approx(0.8, abs=1e-6)
    need = inf.seeds_needed(mde, sd, alpha)
    assert need is not None and need <= n  # the effect detectable at n needs at most n
    assert inf.power(mde, sd, need, alpha) >= 0.8 - 1e-9
    if need > 2:
        assert inf.power(mde, sd, need - 1, alpha) < 0.8


# -- one comparison, and a family ------------------------------------------------------------------
def test_compare_paired_and_adjust() -> None:
    x = [0.95, 0.97, 0.96, 0.94, 0.96, 0.95, 0.97, 0.96, 0.95, 0.96]
    y = [0.93, 0.94, 0.95, 0.94, 0.94, 0.93, 0.95, 0.95, 0.94, 0.94]
    c = inf.compare_paired(x, y, a="cos", b="const", sesoi=0.005)
    ref = sps.ttest_rel(x, y)
    assert c.p_t == pytest.approx(ref.pvalue, rel=1e-10) and c.p_t_adj == c.p_t
    assert (c.low, c.high) == tuple(pytest.approx(v) for v in ref.confidence_interval())
    assert c.sign.wins == 9 and c.sign.ties == 1 and c.family_size == 1
    assert c.diffs == pytest.approx(tuple(np.subtract(x, y)))
    d = np.subtract(x, y)
    assert c.sd == pytest.approx(d.std(ddof=1))
    assert c.mde == pytest.approx(inf.minimal_detectable_effect(c.sd, 10))
    assert c.seeds_needed == inf.seeds_needed(0.005, c.sd)
    family = inf.adjust([c, inf.compare_paired(y, x, sesoi=0.005), c])
    assert [f.family_size for f in family] == [3, 3, 3]
    assert [f.p_t_adj for f in family] == pytest.approx(inf.holm([c.p_t] * 3))
    assert family[0].mde == pytest.approx(inf.minimal_detectable_effect(c.sd, 10, 0.05 / 3))
    assert math.isnan(inf.compare_paired(x, y).p_tost)  # no SESOI, no TOST


def test_infinite_differences_leave_the_t_test_undefined() -> None:
    c = inf.compare_paired([0.5, 0.4, 0.6], [math.inf, math.inf, math.inf])
    assert math.isnan(c.p_t) and c.mean_diff == -math.inf and c.sign.losses == 3
    p = inf.paired([1.0, 2.0], [math.inf, 0.0])
    assert math.isnan(p.p_value) and math.isnan(p.low)
