"""The reproductions end to end: every experiment's quick variant trained for real (shared MNIST /
Fashion-MNIST files), then the structure and sanity of what it produced, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from schedlab import from_spec
from schedlab.lab.experiments import EXPERIMENTS, VERDICTS, get_experiment, run_experiment
from schedlab.lab.experiments.claims import Better, Diverges, Reading
from schedlab.lab.experiments.definitions import VIT_RATES, total_steps
from schedlab.lab.experiments.spec import Experiment, Stage, SweepDef, Variant
from schedlab.lab.experiments.timebased import compounding_rate
from schedlab.lab.runs.store import RunStore
from schedlab.lab.train.config import TrainConfig
from schedlab.report.experiments import markdown
from schedlab.report.page import escape

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    if not (SHARED / "mnist").is_dir() or not (SHARED / "fashion-mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    return tmp_path_factory.mktemp("experiments") / "runs.sqlite"


@pytest.fixture(scope="module")
def outcomes(store_path):
    """Every experiment's quick variant, 3 seeds, trained once into one store."""
    out = {}
    with RunStore(store_path) as store:
        for name, exp in EXPERIMENTS.items():
            out[name] = run_experiment(store, exp, exp.variant(quick=True), data_root=str(SHARED))
    return out


def test_every_claim_gets_a_verdict_with_numbers(outcomes) -> None:
    for name, outcome in outcomes.items():
        exp = get_experiment(name)
        assert [v.claim for v in outcome.verdicts] == [c.text for c in exp.claims]
        for v in outcome.verdicts:
            assert v.verdict in VERDICTS
            assert "not judged" not in v.evidence and any(ch.isdigit() for ch in v.evidence)
        text = markdown(outcome)
        assert all(c.text.replace("|", "\\|") in text for c in exp.claims)


def test_three_seeds_every_schedule_and_the_ranking(outcomes) -> None:
    for outcome in outcomes.values():
        assert outcome.variant.label == "quick" and outcome.variant.seeds == (0, 1, 2)
        labels = {lb for plan in outcome.plans for lb, _ in plan.schedules}
        assert {r.label for r in outcome.rows} == labels
        assert all(r.seeds == (0, 1, 2) for r in outcome.rows)
        means = [r.final.mean for r in outcome.rows]
        assert means == sorted(means, reverse=True)
        base = [r for r in outcome.rows if r.label == outcome.baseline]
        assert len(base) == 1 and base[0].vs_baseline is None
        assert all(r.vs_baseline is not None for r in outcome.rows if r.label != outcome.baseline)


def test_training_loss_decreases(outcomes) -> None:
    for name, outcome in outcomes.items():
        for label in outcome.results.labels:
            if (name, label) == ("mnist-five", "cyclic"):
                continue  # starts at its lowest rate (0.001) and climbs to 0.1: loss may rise
            for seed, loss in outcome.results.series(label, "train_loss").items():
                assert loss[-1] < loss[0], (name, label, seed, loss)
    adam = outcomes["mnist-five"].results.final("adam_default", "val_acc")
    assert min(adam.values()) > 0.8  # a sane MLP on 2,000 MNIST images learns


def test_the_constant_baseline_and_the_decays_differ(outcomes, store_path) -> None:
    outcome = outcomes["fashion-choose"]
    const = outcome.results.final("constant", "val_acc")
    with RunStore(store_path) as store:
        sweep = outcome.plans[0].name
        rates = {r.label: store.step_lrs(r.id) for r in store.runs(sweep, seed=0)}
    epochs = outcome.variant.epochs
    spe = len(rates["constant"]) // epochs
    assert np.all(rates["constant"] == 0.01)
    for label in ("linear", "polynomial", "time_based", "inverse_time", "exponential", "step"):
        per_epoch = rates[label][::spe]
        assert per_epoch[0] == 0.5 and per_epoch[-1] < 0.5, label
        # the stored rate of every epoch is the schedule's value there (epoch unit)
        schedule = (
            from_spec(dict(outcome.results.schedules)[label]) if label != "time_based" else None
        )
        if schedule is not None:
            np.testing.assert_allclose(per_epoch, schedule(np.arange(epochs)), rtol=1e-12)
        assert outcome.results.final(label, "val_acc") != const
    # time-based decay as the source ran it: the compounding product at the compressed epochs
    source = [compounding_rate(0.5, 0.005, e * 100 / epochs) for e in range(epochs)]
    np.testing.assert_allclose(rates["time_based"][::spe], source, rtol=1e-12)
    assert rates["time_based"][-1] < rates["inverse_time"][-1] / 100


def test_adam_member_is_paired_with_the_sgd_sweep(outcomes) -> None:
    outcome = outcomes["fashion-choose"]
    by_label = {r.label: r for r in outcome.rows}
    optimizers = outcome.results.optimizers
    assert optimizers["adam"] == "adam" and optimizers["constant"] == "sgd"
    assert by_label["adam"].vs_baseline.n == 3
    assert [p.name.split("/")[1] for p in outcome.plans] == ["sgd", "adam", "baseline-test"]
    assert outcome.plans[1].config.optimizer == "adam"
    # the baseline as the source ran it: all the images trained on, the test split evaluated
    test = outcome.plans[2].config
    assert test.val_fraction == 0 and test.train_size == outcome.plans[0].config.train_size


def test_vit_picks_the_best_constant_then_decays_from_it(outcomes, store_path) -> None:
    outcome = outcomes["vit-linear"]
    best = outcome.context["best_constant"]
    means = {r.label: r.final.mean for r in outcome.rows
             if r.label.startswith("constant_") and not r.label.endswith("_test")}  # fmt: skip
    assert best == max(means, key=means.get) and outcome.baseline == f"{best}_test"
    assert outcome.context["best_lr"] in VIT_RATES and max(VIT_RATES) == 1e-2
    decays = outcome.plans[-1]
    # the comparison is on the held-out test split, with as many training images as the choice
    assert decays.config.val_fraction == 0 and decays.config.train_size == 800
    assert (
        outcome.plans[0].config.train_size == 1000 and outcome.plans[0].config.val_fraction == 0.2
    )
    steps = total_steps(decays.config)
    with RunStore(store_path) as store:
        run = store.runs(decays.name, label="linear", seed=0)[0]
        rates = store.step_lrs(run.id)
    assert len(rates) == steps and rates[0] == outcome.context["best_lr"]
    assert np.all(np.diff(rates) < 0) and rates[-1] < rates[0] / steps * 1.01


def test_rerun_trains_nothing(outcomes, store_path) -> None:
    with RunStore(store_path) as store:
        exp = EXPERIMENTS["mnist-five"]
        before = {r.id: r.epochs_done for r in store.runs()}
        again = run_experiment(store, exp, exp.variant(quick=True), data_root=str(SHARED))
        assert {r.id: r.epochs_done for r in store.runs()} == before
    assert [v.verdict for v in again.verdicts] == [
        v.verdict for v in outcomes["mnist-five"].verdicts
    ]


def _exploding(variant: Variant, _ctx) -> list[SweepDef]:
    config = TrainConfig(dataset="digits", model="mlp", optimizer="sgd", epochs=variant.epochs,
                         batch_size=32, train_size=variant.train_size)  # fmt: skip
    return [SweepDef("main", config, (("sane", "constant(lr=0.05)"), ("huge", "constant(lr=1e8)")))]


def test_a_diverging_configuration_is_flagged_as_diverged(tmp_path) -> None:
    loss = Reading("val_loss", None, 0.05)
    exp = Experiment(
        name="explode", title="t", source="s", full=(3, 400), quick=(3, 400),
        stages=(Stage(_exploding),), baseline="sane",
        claims=(Diverges("huge diverges", "huge"),
                Better("sane beats huge", "sane", "huge"),
                Better("sane's loss is lower", "sane", "huge", (loss,), family="loss")),
    )  # fmt: skip
    with RunStore(tmp_path / "runs.sqlite") as store:
        outcome = run_experiment(store, exp, exp.variant(seeds=6))
        statuses = {r.label: r.status for r in store.runs()}
    assert statuses == {"sane": "finished", "huge": "diverged"}
    rows = {r.label: r for r in outcome.rows}
    assert rows["huge"].diverged == 6 and rows["sane"].diverged == 0
    assert math.isnan(rows["huge"].final.mean) and outcome.rows[-1].label == "huge"
    assert [v.verdict for v in outcome.verdicts] == ["confirmed"] * 3
    assert "diverged in 6/6 seeds" in outcome.verdicts[0].evidence
    assert "6/6 seeds" in outcome.verdicts[2].evidence  # decided by the sign test


def test_cli_reproduce_writes_report_verdicts_and_figures(outcomes, store_path, tmp_path) -> None:
    from schedlab.cli import _register, app

    _register()  # every command, as the console script has them
    out, figs = tmp_path / "out", tmp_path / "figs"
    result = CliRunner().invoke(app, [
        "reproduce", "mnist-five", "--quick", "--store", str(store_path), "--out", str(out),
        "--figures", str(figs),
    ], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "mnist-five: verdicts" in result.output
    assert any(v.upper() in result.output for v in VERDICTS)
    data = json.loads((out / "mnist-five.json").read_text())
    assert [v["verdict"] for v in data["verdicts"]] == [
        v.verdict for v in outcomes["mnist-five"].verdicts
    ]
    page = (out / "mnist-five.html").read_text()
    assert "data:image/svg+xml;base64," in page and "Verdicts" in page
    assert all(escape(c.text) in page for c in EXPERIMENTS["mnist-five"].claims)
    assert "QUICK variant" in page and "Holm" in page
    assert (out / "mnist-five_main_e6-n2000-s3.html").is_file()  # the sweep's full report
    assert sorted(p.name for p in figs.iterdir()) == [
        "mnist-five-curves-adam-rate.svg",
        "mnist-five-curves-main.svg",
        "mnist-five-differences-project.svg",
        "mnist-five-rates.svg",
    ]
    assert (figs / "mnist-five-rates.svg").read_text().lstrip().startswith("<?xml")


def test_cli_rejects_bad_names_and_values(tmp_path) -> None:
    from schedlab.cli import _register, app

    _register()
    result = CliRunner().invoke(app, ["reproduce", "nope", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "experiment must be one of mnist-five, fashion-choose, vit-linear; got 'nope'" in said
    result = CliRunner().invoke(app, ["reproduce", "mnist-five", "--seeds", "0",
                                      "--store", str(tmp_path / "s.sqlite")])  # fmt: skip
    assert result.exit_code == 2 and "--seeds must be >= 1; got 0" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[3].glob("examples/experiments/*.yaml")),
                         ids=lambda p: p.stem)  # fmt: skip
def test_example_configs_are_the_full_variants_sweeps(path: Path) -> None:
    """examples/experiments/*.yaml give `schedlab compare` exactly the sweep `reproduce` runs."""
    from schedlab.lab.experiments.runner import plans_for
    from schedlab.lab.sweeps import make_plan
    from schedlab.lab.sweeps.settings import build_settings, read_config_file

    settings = build_settings(read_config_file(path), {})
    from_yaml = make_plan(settings.config, settings.schedules, settings.seeds, settings.name)
    name = from_yaml.name.split("/")[0]
    exp = EXPERIMENTS[name]
    context = {"best_lr": 0.003, "best_constant": "constant_0.003",
               "best_constant_test": "constant_0.003_test"}  # fmt: skip
    sweeps = [s for stage in exp.stages for s in stage.sweeps(exp.variant(), context)]
    plans = {p.name: p for p in plans_for(exp, exp.variant(), sweeps)}
    if plans[from_yaml.name].config.dataset == "cifar10":
        pytest.skip("CIFAR-10 is present: vit-linear runs on it, the example shows Fashion-MNIST")
    assert plans[from_yaml.name] == from_yaml
