"""The figures and pages of an outcome, on hand-made results: every verdict's comparisons appear in
the paired-differences figure with their per-seed points, every schedule keeps its colour in
every figure, the rate is drawn per step on a linear axis, SVG out; the Markdown says what ran."""

from __future__ import annotations

import math

import numpy as np

from schedlab.lab.experiments.claims import Better, Overfits, Reading, judge_all
from schedlab.lab.experiments.results import Results, ranking
from schedlab.lab.experiments.runner import ExperimentOutcome
from schedlab.lab.experiments.spec import Design, Experiment, Variant
from schedlab.lab.runs.rows import EpochRow
from schedlab.lab.sweeps.plan import SweepPlan
from schedlab.lab.train.config import TrainConfig
from schedlab.report.experiments import figures, markdown, verdict_rows
from schedlab.report.plots import (
    SCHEDULE_COLORS,
    figure_bytes,
    plot_paired_differences,
    schedule_style,
)

SEEDS = tuple(range(10))
LABELS = ("constant", "cosine", "steplr@0.001")


def _history(seed: int, label: str) -> list[EpochRow]:
    rng = np.random.default_rng(seed * 7 + len(label))
    lift = {"constant": 0.0, "cosine": 0.05, "steplr@0.001": 0.02}[label]
    acc = 0.8 + lift + 0.01 * rng.standard_normal(4)
    loss = [1.0, 0.6, 0.5, 0.55 + 0.01 * seed]
    return [EpochRow(epoch=e, train_loss=1.0 - 0.2 * e, train_acc=None, val_loss=loss[e],
                     val_acc=float(acc[e]), lr=0.1, seconds=0.0, diverged=False)
            for e in range(4)]  # fmt: skip


def _outcome(label: str = "design") -> ExperimentOutcome:
    curves = {lb: {s: _history(s, lb) for s in SEEDS} for lb in LABELS}
    rates = {lb: {s: np.repeat([0.1, 0.05, 0.02, 0.01], 3) for s in SEEDS} for lb in LABELS}
    results = Results({lb: "x/main/e4-n10-s10" for lb in LABELS},
                      {lb: f"constant(lr={i + 1})" for i, lb in enumerate(LABELS)},
                      {lb: "adam" for lb in LABELS}, curves,
                      {lb: dict.fromkeys(SEEDS, "finished") for lb in LABELS}, rates)  # fmt: skip
    readings = (Reading("val_loss", 2, 0.02, "source"), Reading("val_acc", None, 0.01))
    claims = (Better("cosine beats the constant", "cosine", "constant", readings, "f", "q"),
              Better("steplr beats the constant", "steplr@0.001", "constant", readings, "f", "q"),
              Overfits("cosine overfits", "cosine", quote="q2"))  # fmt: skip
    design = Design(SEEDS)
    exp = Experiment(name="x", title="t", source="s", full=(4, 10), quick=(2, 10), stages=(),
                     claims=claims, baseline="constant", design=design,
                     untested=(("faster", "undefined"),), setup=(("data", "A", "B"),))  # fmt: skip
    config = TrainConfig(dataset="digits", epochs=4, train_size=100)
    plan = SweepPlan("x/main/e4-n10-s10", config, tuple((lb, f"constant({i + 1})")
                     for i, lb in enumerate(LABELS)), SEEDS)  # fmt: skip
    verdicts = judge_all(claims, results, {}, design)
    return ExperimentOutcome(exp, Variant(4, 10, SEEDS, label), (plan,), {}, "constant",
                             ranking(results, "val_acc", "constant"), tuple(verdicts), results)  # fmt: skip


def test_figures_show_every_comparison_per_seed() -> None:
    out = _outcome()
    figs = figures(out)
    assert sorted(figs) == ["curves-main", "differences-project", "differences-source", "rates"]
    svg = figure_bytes(figs["differences-project"][1], "svg").decode()
    assert svg.lstrip().startswith("<?xml")
    for name in ("cosine - constant (val_acc; claim > 0)", "steplr@0.001 - constant"):
        assert name.replace("<", "&lt;").replace(">", "&gt;") in svg or name in svg
    # every verdict of the source's reading is written beside its row
    source = figure_bytes(figs["differences-source"][1], "svg").decode()
    for v in out.verdicts[:2]:
        assert v.decisions[0].verdict in source


def test_one_colour_per_schedule_everywhere() -> None:
    assert schedule_style("steplr") == (SCHEDULE_COLORS["steplr"], "-")
    assert schedule_style("steplr@0.001") == (SCHEDULE_COLORS["steplr"], "--")
    assert schedule_style("step")[0] == schedule_style("steplr")[0]  # one kind, one colour
    assert schedule_style("constant_test") == (SCHEDULE_COLORS["constant"], "--")
    rates = ["constant_0.0003", "constant_0.001", "constant_0.003", "constant_0.01"]
    greys = [schedule_style(r, rates)[0] for r in rates]
    assert len(set(greys)) == 4  # the constants of a sweep: four greys, darker for higher rates
    assert schedule_style("constant_0.003_test", rates)[0] == greys[2]
    out = _outcome()
    svgs = [figure_bytes(fig, "svg").decode() for _, fig in figures(out).values()]
    for svg in svgs:  # the same colour for cosine in every figure that shows it
        assert SCHEDULE_COLORS["cosine"] in svg


def test_infinite_differences_are_drawn_at_the_edge() -> None:
    rows = [{"name": "a - b", "values": [0.1, math.inf, -0.05], "mean": math.inf,
             "low": math.nan, "high": math.nan, "boot_low": math.nan, "boot_high": math.nan,
             "sesoi": 0.02, "verdict": "confirmed", "color": "#123456"}]  # fmt: skip
    svg = figure_bytes(plot_paired_differences({"panel": rows}), "svg").decode()
    assert "#123456" in svg and "confirmed" in svg


def test_markdown_says_what_ran_and_what_was_not_tested() -> None:
    text = markdown(_outcome(), {"a figure": "x-differences-project.svg"})
    assert "the pre-declared design" in text and "Holm" in text
    assert "| data | A | B |" in text and "**faster**: undefined" in text
    assert "“q”" in text and "![a figure](x-differences-project.svg)" in text
    assert "val_loss at epoch 2 of 4 (source's; SESOI 0.02)" in text
    pilot = markdown(_outcome("pilot"))
    assert "PILOT (exploratory" in pilot
    rows = verdict_rows(_outcome())
    assert len(rows) == 2 * 2 + 1  # two readings of each Better, one of Overfits
