"""Statistics over seeds against scipy.stats, on known numbers and hypothesis-drawn samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from schedlab.lab.analysis import stats
from schedlab.lab.analysis.inference import holm
from schedlab.lab.runs.store import EpochResult, RunStore
from schedlab.lab.train.trainer import EpochRecord

finite = st.floats(-1e3, 1e3, allow_nan=False)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stats.mean_ci([1.0, 2.0], confidence=95), "confidence must be in \\(0, 1\\)"),
    ],
)
def test_bad_arguments(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# -- mean +- CI and the paired test ----------------------------------------------------------------
def test_mean_ci_known_numbers() -> None:
    est = stats.mean_ci([0.91, 0.93, 0.92])
    low, high = sps.t.interval(0.95, 2, loc=0.92, scale=sps.sem([0.91, 0.93, 0.92]))
    assert (est.mean, est.n) == (pytest.approx(0.92), 3)
    assert (est.low, est.high) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
    # by hand: s = 0.01, t = 4.302653 -> half width 0.0248414
    assert est.half_width == pytest.approx(4.302652729911275 * 0.01 / math.sqrt(3), rel=1e-9)


def test_mean_ci_degenerate() -> None:
    one = stats.mean_ci([0.5])
    assert one.mean == 0.5 and math.isnan(one.low) and math.isnan(one.high) and one.n == 1
    assert stats.mean_ci([]).n == 0 and math.isnan(stats.mean_ci([]).mean)
    assert math.isnan(stats.mean_ci([1.0, math.nan, 2.0]).mean)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=2, max_size=12).filter(lambda v: np.std(v) > 1e-6))
def test_mean_ci_matches_scipy(values: list[float]) -> None:
    est = stats.mean_ci(values, confidence=0.9)
    low, high = sps.t.interval(0.9, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
    assert est.low == pytest.approx(low, rel=1e-9, abs=1e-9)
    assert est.high == pytest.approx(high, rel=1e-9, abs=1e-9)


def test_paired_known_numbers() -> None:
    x, y = [0.95, 0.97, 0.96, 0.94], [0.93, 0.94, 0.95, 0.94]
    res = stats.paired(x, y, "constant")
    ref = sps.ttest_rel(x, y)
    ci = ref.confidence_interval(0.95)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.t == pytest.approx(ref.statistic, rel=1e-10)
    assert (res.low, res.high) == (
        pytest.approx(ci.low, rel=1e-9),
        pytest.approx(ci.high, rel=1e-9),
    )
    assert res.mean_diff == pytest.approx(0.015) and res.n == 4 and res.baseline == "constant"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=10))
def test_paired_matches_scipy(pairs: list[tuple[float, float]]) -> None:
    x, y = (np.array(v) for v in zip(*pairs, strict=True))
    d = x - y
    res = stats.paired(x, y)
    if np.std(d) < 1e-9 * max(1.0, float(np.abs(d).max())):
        return  # no variance: covered by test_paired_without_variance
    ref = sps.ttest_rel(x, y)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)


def test_paired_without_variance() -> None:
    same = stats.paired([0.9, 0.8], [0.9, 0.8])
    assert same.p_value == 1.0 and same.mean_diff == 0.0
    shifted = stats.paired([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])  # exact: every d_i = 0.5
    assert shifted.p_value == 0.0 and shifted.t == math.inf
    assert math.isnan(stats.paired([0.9], [0.8]).p_value)


# -- epochs to target and overfitting ------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "target", "higher", "expected"),
    [
        ([0.5, 0.7, 0.9], 0.7, True, 2),  # reached exactly at the 2nd epoch
        ([0.5, 0.7, 0.9], 0.5, True, 1),
        ([0.5, 0.7, 0.9], 0.95, True, None),
        ([2.0, 1.0, 0.5], 1.0, False, 2),  # losses: <= target
        ([math.nan, 0.8], 0.7, True, 2),
    ],
)
def test_epochs_to_target(values, target, higher, expected) -> None:
    assert stats.epochs_to_target(values, target, higher) == expected


@pytest.mark.parametrize(
    ("train", "val", "expected"),
    [
        ([1.0, 0.8, 0.6, 0.5, 0.4], [0.9, 0.7, 0.72, 0.75, 0.8], True),
        ([1.0, 0.8, 0.6, 0.5, 0.4], [0.9, 0.7, 0.6, 0.55, 0.5], False),  # both falling
        ([1.0, 0.8, 0.6, 0.7, 0.8], [0.9, 0.7, 0.72, 0.75, 0.8], False),  # train rising too
        ([1.0, 0.8, 0.6, 0.5, 0.4], [0.9, 0.7, 0.700, 0.701, 0.703], False),  # rise < 1%
        ([1.0, 0.5], [0.5, 0.9], False),  # fewer than 3 epochs
        ([1.0, 0.8, math.nan], [0.9, 0.7, 0.8], False),  # diverged
    ],
)
def test_overfitting_definition(train, val, expected) -> None:
    assert stats.is_overfitting(train, val) is expected


# -- rank on a real store --------------------------------------------------------------------------
CONFIG = {"dataset": "digits", "model": "mlp", "optimizer": "sgd", "epochs": 3}


def _record(epoch: int, val_acc: float | None, val_loss: float, train_loss: float) -> EpochRecord:
    diverged = math.isnan(val_loss)
    acc = None if val_acc is None else (math.nan if diverged else val_acc)
    return EpochRecord(
        member=0, epoch=epoch, train_loss=train_loss, train_acc=acc, val_loss=val_loss,
        val_acc=acc, lr=0.1, step_lrs=np.full(4, 0.1), diverged=diverged, seconds=0.5,
    )  # fmt: skip


def _fill(store: RunStore, curves: dict[tuple[str, str], list[list[tuple]]], name="s") -> None:
    """curves[(label, schedule)][seed] = [(val_acc, val_loss, train_loss) per epoch]."""
    store.ensure_sweep(name, {"test": True})
    plan = [
        (label, spec, seed) for (label, spec), seeds in curves.items() for seed in range(len(seeds))
    ]
    ids = store.ensure_runs(name, CONFIG, "h" * 64, plan)
    rows = [per_seed for seeds in curves.values() for per_seed in seeds]
    store.start_runs(ids, restart=True)
    for run_id, epochs in zip(ids, rows, strict=True):
        for e, (acc, loss, train) in enumerate(epochs):
            rec = _record(e, acc, loss, train)
            store.commit_epoch([EpochResult(run_id, rec, None, done=e == len(epochs) - 1)])


ACC = {
    ("const", "constant(lr=0.1)"): [[0.80, 0.85, 0.90], [0.82, 0.86, 0.88], [0.78, 0.84, 0.89]],
    ("cos", "cosine(lr=0.1, steps=3, min_lr=0.0)"): [[0.85, 0.90, 0.93], [0.86, 0.91, 0.92], [0.84, 0.90, 0.94]],
    ("hot", "constant(lr=10.0)"): [[0.30, 0.20, 0.10], [0.30, 0.25, 0.10], [0.35, 0.2, 0.15]],
}  # fmt: skip


def _acc_curves(acc=ACC):
    return {
        key: [[(a, 1.0 - a, 1.0 - a) for a in seed] for seed in seeds] for key, seeds in acc.items()
    }


def test_rank_against_scipy(tmp_path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, _acc_curves())
        ranking = stats.rank(store, "s")
    assert [r.label for r in ranking.rows] == ["cos", "const", "hot"]
    assert ranking.baseline == "const" and ranking.metric == "val_acc" and ranking.higher_is_better
    cos = ranking.rows[0]
    finals, base = [0.93, 0.92, 0.94], [0.90, 0.88, 0.89]
    low, high = sps.t.interval(0.95, 2, loc=np.mean(finals), scale=sps.sem(finals))
    assert (cos.final.low, cos.final.high) == (pytest.approx(low), pytest.approx(high))
    assert cos.best.mean == pytest.approx(np.mean(finals))
    assert cos.vs_baseline.p_value == pytest.approx(sps.ttest_rel(finals, base).pvalue, rel=1e-9)
    assert cos.vs_baseline.mean_diff == pytest.approx(0.04)
    # default target: the baseline's mean final val_acc, 0.89; cos reaches it at epochs 2, 2, 2
    assert ranking.target == pytest.approx(0.89)
    assert cos.epochs_to_target.mean == 2 and cos.reached == 3
    hot = ranking.rows[2]
    assert hot.best.mean == pytest.approx(np.mean([0.30, 0.30, 0.35]))
    assert hot.epochs_to_target is None and hot.reached == 0
    assert ranking.rows[1].vs_baseline is None


def test_rank_flags_divergence_and_overfitting(tmp_path) -> None:
    nan = math.nan
    curves = {
        ("const", "constant(lr=0.1)"): [[(0.8, 0.5, 0.6)] * 3, [(0.81, 0.5, 0.6)] * 3],
        ("hot", "constant(lr=10.0)"): [
            [(0.5, 0.9, 1.0), (nan, nan, nan), (nan, nan, nan)],  # diverged at epoch 1
            [(0.6, 0.8, 1.0), (0.6, 0.8, 0.9), (0.6, 0.8, 0.8)],
        ],
        ("long", "constant(lr=0.05)"): [
            [(0.9, 0.3, 0.5), (0.9, 0.35, 0.4), (0.9, 0.4, 0.3)],  # overfits
            [(0.9, 0.3, 0.5), (0.9, 0.35, 0.4), (0.9, 0.4, 0.3)],
        ],
    }
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, curves)
        by_label = {r.label: r for r in stats.rank(store, "s", metric="val_loss").rows}
        assert [r.status for r in store.runs("s", label="hot")] == ["diverged", "finished"]
    assert by_label["hot"].diverged == 1 and by_label["hot"].flags == ("diverged 1/2",)
    assert math.isnan(by_label["hot"].final.mean)  # a NaN loss makes the mean NaN ...
    assert by_label["hot"].best.mean == pytest.approx(0.85)  # ... but the best is before it
    assert by_label["long"].overfitting == 2 and by_label["long"].flags == ("overfitting 2/2",)
    assert by_label["const"].flags == ()


def test_rank_baseline_by_spec_target_and_errors(tmp_path) -> None:
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, _acc_curves())
        ranking = stats.rank(store, "s", baseline="cosine(0.1, 3)", target=0.95)
        assert ranking.baseline == "cos" and ranking.target == 0.95
        assert all(r.epochs_to_target is None for r in ranking.rows)
        const = next(r for r in ranking.rows if r.label == "const")
        assert const.vs_baseline.baseline == "cos"
        assert const.vs_baseline.mean_diff == pytest.approx(-0.04)
        with pytest.raises(
            ValueError, match=r"baseline must be a label or schedule .*'cos'.*got 'step"
        ):
            stats.rank(store, "s", baseline="step(0.1, 1)")
        with pytest.raises(ValueError, match=r"metric must be one of val_acc, val_loss.*got 'acc'"):
            stats.rank(store, "s", metric="acc")
        with pytest.raises(ValueError, match="no sweep named 'nope'; known sweeps: 's'"):
            stats.rank(store, "nope")


def test_rank_regression_uses_val_loss(tmp_path) -> None:
    curves = {
        ("const", "constant(lr=0.1)"): [[(None, 0.5, 0.6), (None, 0.4, 0.5)]] * 2,
        ("cos", "cosine(lr=0.1, steps=2, min_lr=0.0)"): [[(None, 0.5, 0.6), (None, 0.2, 0.3)]] * 2,
    }
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, curves)
        ranking = stats.rank(store, "s")
    assert ranking.metric == "val_loss" and not ranking.higher_is_better
    assert [r.label for r in ranking.rows] == ["cos", "const"]
    assert ranking.rows[0].vs_baseline.mean_diff == pytest.approx(-0.2)


def test_rank_with_tests_is_the_experiments_statistics(tmp_path) -> None:
    """rank(..., tests=True): Holm over the ranking's comparisons with the baseline, TOST against
    the SESOI, sign test, bootstrap and power; the default stays the cheap t interval alone."""
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, _acc_curves())
        cheap = stats.rank(store, "s")
        full = stats.rank(store, "s", tests=True, sesoi=0.01)
    assert all(r.tests is None for r in cheap.rows)
    by_label = {r.label: r for r in full.rows}
    assert by_label["const"].tests is None
    cos, hot = by_label["cos"].tests, by_label["hot"].tests
    assert (cos.a, cos.b, cos.family_size) == ("cos", "const", 2)
    raw = [sps.ttest_rel([0.93, 0.92, 0.94], [0.90, 0.88, 0.89]).pvalue,
           sps.ttest_rel([0.10, 0.10, 0.15], [0.90, 0.88, 0.89]).pvalue]  # fmt: skip
    assert [cos.p_t_adj, hot.p_t_adj] == pytest.approx(holm(raw))
    assert cos.mean_diff == pytest.approx(0.04) and cos.sign.wins == 3 and hot.sign.losses == 3
    assert cos.sesoi == 0.01 and not math.isnan(cos.p_tost) and cos.seeds_needed is not None
    assert by_label["cos"].vs_baseline.p_value == pytest.approx(cos.p_t)  # the same t-test
    assert full.to_dict()["rows"][0]["tests"]["a"] == full.rows[0].label


def test_rank_with_tests_decides_each_schedule(tmp_path) -> None:
    """The verdicts follow the Holm-adjusted t-test and TOST, in the metric's direction."""
    with RunStore(tmp_path / "r.sqlite") as store:
        _fill(store, _acc_curves())
        acc = stats.rank(store, "s", tests=True)
        loss = stats.rank(store, "s", metric="val_loss", sesoi=1e6)  # sesoi implies tests
        with pytest.raises(ValueError, match=r"sesoi must be a finite number > 0.*got -0.1"):
            stats.rank(store, "s", sesoi=-0.1)
        with pytest.raises(ValueError, match=r"sesoi must be a finite number > 0.*got nan"):
            stats.rank(store, "s", sesoi=float("nan"))
    by_label = {r.label: r for r in acc.rows}
    assert acc.tests and acc.sesoi is None and by_label["const"].verdict is None
    for label, row in by_label.items():
        if label == "const":
            continue
        c = row.tests
        expected = (
            "inconclusive" if c.p_t_adj > 0.05 else ("better" if c.mean_diff > 0 else "worse")
        )
        assert row.verdict == expected
    assert by_label["hot"].verdict == "worse"  # 0.10-0.15 against 0.88-0.90, 3/3 seeds
    # an absurdly wide SESOI makes every difference "no difference" (TOST), whatever its side
    assert loss.tests and loss.sesoi == 1e6
    assert {r.verdict for r in loss.rows if r.label != "const"} == {"no difference"}
    assert acc.to_dict()["rows"][-1]["verdict"] in ("worse", None)


def test_decide_in_the_metrics_direction() -> None:
    from schedlab.lab.analysis.inference import adjust, compare_paired, decide

    low = [0.30, 0.31, 0.29, 0.30, 0.32]
    high = [0.50, 0.52, 0.49, 0.51, 0.50]
    c = compare_paired(low, high, a="a", b="b")
    assert decide(c, sign=-1) == "better" and decide(c, sign=1) == "worse"  # a loss: lower wins
    same = compare_paired(high, [v + 1e-4 for v in high], sesoi=0.05)
    assert decide(same) == "no difference"
    noisy = adjust([compare_paired([0.1, 0.9, 0.2], [0.5, 0.4, 0.6])])[0]
    assert decide(noisy) == "inconclusive"
    assert decide(compare_paired([0.5], [0.1])) == "inconclusive"  # one pair decides nothing
