"""How claims are decided, on hand-made curves whose verdict is known: readings (metric and
horizon), Holm families, equivalence, the sign test in chaotic families, divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from schedlab.lab.analysis.inference import holm
from schedlab.lab.experiments.claims import (
    CHANCE,
    CONFIRMED,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    REFUTED,
    Best,
    Better,
    Diverges,
    Overfits,
    OverfitsEarly,
    Reading,
    final_values,
    judge_all,
    rises,
)  # fmt: skip
from schedlab.lab.experiments.results import Results, ranking
from schedlab.lab.experiments.spec import Design
from schedlab.lab.runs.rows import EpochRow

DESIGN = Design(seeds=tuple(range(10)))
ACC = Reading("val_acc", None, 0.01)


def curve(
    val_acc: list[float],
    val_loss: list[float] | None = None,
    train_loss: list[float] | None = None,
    diverged_at: int | None = None,
) -> list[EpochRow]:
    n = len(val_acc)
    val_loss = val_loss or [1.0 - 0.1 * i for i in range(n)]
    train_loss = train_loss or [1.0 - 0.1 * i for i in range(n)]
    out = []
    for i in range(n):
        dead = diverged_at is not None and i >= diverged_at
        nan = math.nan
        out.append(
            EpochRow(
                epoch=i, train_loss=nan if dead else train_loss[i], train_acc=None,
                val_loss=nan if dead else val_loss[i], val_acc=nan if dead else val_acc[i],
                lr=0.1, seconds=0.0, diverged=dead,
            )
        )  # fmt: skip
    return out


def results(**labels: dict[int, list[EpochRow]]) -> Results:
    statuses = {
        lb: {s: "diverged" if any(e.diverged for e in h) else "finished" for s, h in c.items()}
        for lb, c in labels.items()
    }
    return Results({lb: "sweep" for lb in labels}, {lb: f"constant({lb})" for lb in labels},
                   {lb: "sgd" for lb in labels}, labels, statuses)  # fmt: skip


def finals(values) -> dict[int, list[EpochRow]]:
    return {s: curve([0.5, float(v)]) for s, v in enumerate(values)}


RNG = np.random.default_rng(0)
BASE = 0.80 + 0.01 * RNG.standard_normal(10)


def test_better_confirmed_refuted_no_difference_inconclusive() -> None:
    r = results(
        a=finals(BASE + 0.05 + 0.002 * RNG.standard_normal(10)), b=finals(BASE),
        same=finals(BASE + 0.0005 * RNG.standard_normal(10)),
        noisy=finals(BASE + 0.05 * RNG.standard_normal(10)),
    )  # fmt: skip
    claims = [Better("a beats b", "a", "b", (ACC,)), Better("b beats a", "b", "a", (ACC,)),
              Better("same beats b", "same", "b", (ACC,)),
              Better("noisy beats b", "noisy", "b", (ACC,))]  # fmt: skip
    verdicts = [judge_all([c], r, {}, DESIGN)[0] for c in claims]  # one family each
    assert [v.verdict for v in verdicts] == [CONFIRMED, REFUTED, NO_DIFFERENCE, INCONCLUSIVE]
    (c,) = verdicts[0].decisions[0].comparisons
    d = np.array([final_values(r, "a", "val_acc")[s] - BASE[s] for s in range(10)])
    assert c.mean_diff == pytest.approx(d.mean()) and c.n == 10
    assert c.p_t == pytest.approx(sps.ttest_1samp(d, 0).pvalue, rel=1e-9)
    assert c.sign.wins == 10 and "p_holm" in verdicts[0].evidence


def test_holm_within_a_family_changes_a_verdict() -> None:
    # two comparisons at p ~ 0.03 each: significant alone, not after Holm (0.06)
    d = np.array([0.011, -0.004, 0.02, 0.001, 0.013, -0.006, 0.018, 0.004, 0.009, -0.001])
    assert 0.02 < sps.ttest_1samp(d, 0).pvalue < 0.05
    r = results(a=finals(BASE + d), b=finals(BASE), c=finals(BASE + d))
    alone = judge_all([Better("", "a", "b", (ACC,))], r, {}, DESIGN)[0]
    both = judge_all([Better("", "a", "b", (ACC,), family="f"),
                      Better("", "c", "b", (ACC,), family="f")], r, {}, DESIGN)  # fmt: skip
    assert alone.verdict == CONFIRMED
    assert [v.verdict for v in both] == [INCONCLUSIVE, INCONCLUSIVE]
    (c,) = both[0].decisions[0].comparisons
    assert c.family_size == 2 and c.p_t_adj == pytest.approx(holm([c.p_t, c.p_t])[0])


def test_a_chaotic_family_also_needs_the_sign_test() -> None:
    d = np.array([0.3, 0.25, 0.35, 0.3, 0.28, 0.32, 0.31, -0.01, -0.02, -0.015])  # 7/10 ahead
    r = results(a=finals(BASE + d), b=finals(BASE))
    claim = Better("", "a", "b", (ACC,), family="wild")
    assert judge_all([claim], r, {}, DESIGN)[0].verdict == CONFIRMED
    chaotic = Design(seeds=DESIGN.seeds, chaotic_families=("wild",))
    assert judge_all([claim], r, {}, chaotic)[0].verdict == INCONCLUSIVE


def test_readings_at_the_source_horizon_and_metric() -> None:
    # a ends better in accuracy, but its validation loss at epoch 2 (of 3) is worse
    good = {s: curve([0.5, 0.6, 0.9 + s / 1000], val_loss=[1.0, 0.9 + s / 1000, 0.3])
            for s in range(10)}  # fmt: skip
    bad = {s: curve([0.5, 0.6, 0.8 + s / 1000], val_loss=[1.0, 0.5 + s / 1000, 0.4])
           for s in range(10)}  # fmt: skip
    r = results(a=good, b=bad)
    readings = (Reading("val_loss", 2, 0.02, "source"), Reading("val_acc", None, 0.01))
    (v,) = judge_all([Better("a beats b", "a", "b", readings)], r, {}, DESIGN)
    assert [d.verdict for d in v.decisions] == [REFUTED, CONFIRMED]
    assert v.verdict == REFUTED  # the headline is the source's reading
    assert v.decisions[0].comparisons[0].mean_diff == pytest.approx(0.4)
    assert "source's reading: refuted" in v.evidence
    (late,) = judge_all([Better("", "a", "b", (Reading("val_acc", 9),))], r, {}, DESIGN)
    assert late.verdict == INCONCLUSIVE and "fewer than 9 epochs" in late.evidence


def test_best_needs_every_rival() -> None:
    r = results(a=finals(BASE + 0.05), b=finals(BASE), c=finals(BASE + 0.1),
                tie=finals(BASE + 0.05 + 0.0005 * RNG.standard_normal(10)))  # fmt: skip
    assert judge_all([Best("", "a", ("b",), (ACC,))], r, {}, DESIGN)[0].verdict == CONFIRMED
    refuted = judge_all([Best("", "a", ("b", "c"), (ACC,))], r, {}, DESIGN)[0]
    assert refuted.verdict == REFUTED and "a - c" in refuted.evidence
    level = judge_all([Best("", "a", ("b", "tie"), (ACC,))], r, {}, DESIGN)[0]
    assert level.verdict == NO_DIFFERENCE and "1 confirmed, 1 no difference" in level.evidence


def _rising(top: float) -> dict[int, list[EpochRow]]:
    """val loss 1.0 -> 0.5 at epoch 3, then up to ``top`` (+ a little per seed); train falls."""
    return {s: curve([0.5] * 6, val_loss=[1.0, 0.7, 0.5, 0.5 + (top - 0.5) / 3,
                                          0.5 + 2 * (top - 0.5) / 3, top + s / 1000],
                     train_loss=[1.0, 0.7, 0.5, 0.4, 0.3, 0.2]) for s in range(10)}  # fmt: skip


def test_overfits_and_does_not_overfit() -> None:
    r = results(up=_rising(0.8), flat=_rising(0.51))
    reading = (Reading("val_loss", None, 0.1),)
    up = judge_all([Overfits("", "up", True, reading)], r, {}, DESIGN)[0]
    assert up.verdict == CONFIRMED
    assert rises(r, "up")[0] == pytest.approx(0.8 / 0.5 - 1)
    assert judge_all([Overfits("", "flat", True, reading)], r, {}, DESIGN)[0].verdict == REFUTED
    fine = judge_all([Overfits("", "flat", False, reading)], r, {}, DESIGN)[0]
    assert fine.verdict == CONFIRMED  # "flat does not overfit": rise 2% < 10%
    # at horizon 3 nobody has risen yet
    early = (Reading("val_loss", 3, 0.1),)
    assert judge_all([Overfits("", "up", True, early)], r, {}, DESIGN)[0].verdict == REFUTED
    quick = OverfitsEarly("", "up", early=0.6, readings=reading)
    assert judge_all([quick], r, {}, DESIGN)[0].verdict == CONFIRMED  # minimum at 3, before 3.6
    assert judge_all([OverfitsEarly("", "up", 0.25, reading)], r, {}, DESIGN)[0].verdict == REFUTED


def test_divergence_keeps_its_information() -> None:
    r = results(
        ok=finals(BASE),
        boom={s: curve([0.5, 0.1, 0.1], diverged_at=1) for s in range(10)},
        half={s: curve([0.5, 0.9, 0.95], diverged_at=1 if s < 3 else None) for s in range(10)},
    )
    assert judge_all([Diverges("", "boom")], r, {}, DESIGN)[0].verdict == CONFIRMED
    ok = judge_all([Diverges("", "ok")], r, {}, DESIGN)[0]
    assert ok.verdict == REFUTED and "0/10" in ok.evidence and ok.numbers["high"] < 0.5
    # 3 of 10 diverged: chance accuracy for those, the comparison is still made
    assert final_values(r, "half", "val_acc")[0] == CHANCE
    (v,) = judge_all([Better("", "half", "ok", (ACC,))], r, {}, DESIGN)
    c = v.decisions[0].comparisons[0]
    assert c.n == 10 and not math.isnan(c.mean_diff) and v.verdict == INCONCLUSIVE
    # on the loss, a diverged run is infinitely bad: the sign test decides
    (v,) = judge_all([Better("", "ok", "boom", (Reading("val_loss", None, 0.02),))], r, {}, DESIGN)
    assert v.verdict == CONFIRMED and math.isnan(v.decisions[0].comparisons[0].p_t)
    rows = ranking(r, "val_acc", "ok")
    assert set(rows.labels[-2:]) == {"boom", "half"} and rows[-1].diverged + rows[-2].diverged == 13


def test_unknown_labels_and_context() -> None:
    r = results(a=finals(BASE + 0.05), b=finals(BASE))
    (v,) = judge_all([Better("x", "a", "@chosen")], r, {"chosen": "b"}, DESIGN)
    assert v.verdict == CONFIRMED and v.about == "a vs b"
    (v,) = judge_all([Better("x", "a", "@missing")], r, {}, DESIGN)
    assert v.verdict == INCONCLUSIVE and "names no chosen schedule" in v.evidence
    (v,) = judge_all([Better("y", "a", "nope")], r, {}, DESIGN)
    assert "no finished runs for schedule 'nope'" in v.evidence
