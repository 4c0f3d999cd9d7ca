"""How claims are judged, on hand-made curves whose verdict is known (the numbers checked against
scipy's paired t-test where it is installed)."""

from __future__ import annotations

import math

import pytest

from schedlab.lab.experiments.claims import (
    CONFIRMED,
    INCONCLUSIVE,
    REFUTED,
    Best,
    Better,
    DivergesOrOverfitsEarly,
    Overfits,
    judge_all,
)  # fmt: skip
from schedlab.lab.experiments.results import Results, ranking
from schedlab.lab.runs.rows import EpochRow


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


def results(**labels: dict[int, list[dict]]) -> Results:
    statuses = {
        lb: {s: "diverged" if any(e.diverged for e in h) else "finished" for s, h in c.items()}
        for lb, c in labels.items()
    }
    return Results({lb: "sweep" for lb in labels}, {lb: f"constant({lb})" for lb in labels},
                   {lb: "sgd" for lb in labels}, labels, statuses)  # fmt: skip


def finals(values: list[float]) -> dict[int, list[dict]]:
    return {s: curve([0.5, v]) for s, v in enumerate(values)}


def test_better_confirmed_refuted_inconclusive() -> None:
    r = results(a=finals([0.90, 0.91, 0.92]), b=finals([0.80, 0.82, 0.81]),
                c=finals([0.95, 0.70, 0.99]))  # fmt: skip
    v = Better("a beats b", "a", "b").judge(r, {})
    assert v.verdict == CONFIRMED and v.numbers["wins"] == 3
    assert v.numbers["mean_diff"] == pytest.approx(0.1)
    assert Better("b beats a", "b", "a").judge(r, {}).verdict == REFUTED
    assert Better("c beats a", "c", "a").judge(r, {}).verdict == INCONCLUSIVE  # CI straddles 0
    scipy = pytest.importorskip("scipy.stats")
    assert v.numbers["p"] == pytest.approx(
        scipy.ttest_rel([0.90, 0.91, 0.92], [0.80, 0.82, 0.81]).pvalue, rel=1e-9
    )


def test_one_seed_is_inconclusive_and_context_labels_resolve() -> None:
    r = results(a={0: curve([0.5, 0.9])}, b={0: curve([0.5, 0.1])})
    assert Better("", "a", "b").judge(r, {}).verdict == INCONCLUSIVE
    r = results(a=finals([0.9, 0.91, 0.92]), b=finals([0.8, 0.82, 0.81]))
    assert Better("", "a", "@chosen").judge(r, {"chosen": "b"}).numbers["b"] == "b"
    (v,) = judge_all([Better("x", "a", "@missing")], r, {})
    assert v.verdict == INCONCLUSIVE and "names no chosen schedule" in v.evidence
    (v,) = judge_all([Better("y", "a", "nope")], r, {})
    assert "no finished runs for schedule 'nope'" in v.evidence


def test_best_needs_every_rival_beaten() -> None:
    r = results(a=finals([0.90, 0.91, 0.92]), b=finals([0.80, 0.82, 0.81]),
                c=finals([0.95, 0.96, 0.97]), d=finals([0.90, 0.80, 0.99]))  # fmt: skip
    assert Best("", "a", ("b",)).judge(r, {}).verdict == CONFIRMED
    refuted = Best("", "a", ("b", "c", "d")).judge(r, {})
    assert refuted.verdict == REFUTED and "a - c" in refuted.evidence
    assert Best("", "a", ("b", "d")).judge(r, {}).verdict == INCONCLUSIVE


def test_overfits_reads_the_rise_of_validation_loss() -> None:
    rising = {s: curve([0.5] * 6, val_loss=[1.0, 0.6, 0.5, 0.55 + s / 100, 0.6, 0.7 + s / 50],
                       train_loss=[1.0, 0.7, 0.5, 0.4, 0.3, 0.2]) for s in range(3)}  # fmt: skip
    falling = {s: curve([0.5] * 6, val_loss=[1.0, 0.8, 0.7, 0.6, 0.55, 0.5 - s / 100])
               for s in range(3)}  # fmt: skip
    r = results(up=rising, down=falling)
    up = Overfits("", "up").judge(r, {})
    assert up.verdict == CONFIRMED
    assert up.numbers["rise"] == pytest.approx(((0.7 / 0.5) + (0.72 / 0.5) + (0.74 / 0.5)) / 3 - 1)
    assert up.numbers["min_epoch"] == [3, 3, 3]
    assert Overfits("", "down").judge(r, {}).verdict == REFUTED


def test_divergence_is_flagged_and_decides() -> None:
    r = results(
        ok=finals([0.8, 0.81, 0.82]),
        boom={s: curve([0.5, 0.1, 0.1], diverged_at=1) for s in range(3)},
    )
    v = DivergesOrOverfitsEarly("boom diverges", "boom").judge(r, {})
    assert v.verdict == CONFIRMED and v.numbers["diverged"] == 3
    assert DivergesOrOverfitsEarly("", "ok").judge(r, {}).verdict == REFUTED
    better = Better("ok beats boom", "ok", "boom").judge(r, {})
    assert better.verdict == CONFIRMED and "diverged seeds: ok 0, boom 3" in better.evidence
    rows = ranking(r, "val_acc", "ok")
    assert [row.label for row in rows] == ["ok", "boom"]  # NaN ranks last
    assert rows[1].diverged == 3 and math.isnan(rows[1].final.mean)
