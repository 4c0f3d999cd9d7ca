"""The experiments' schedules: exactly the sources' at 100 epochs, the same curves compressed in
time for shorter runs; variants and names validated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from schedlab.lab.experiments import EXPERIMENTS, get_experiment
from schedlab.lab.experiments.definitions import total_steps
from schedlab.lab.experiments.spec import Variant
from schedlab.lab.experiments.timebased import compounding_rate
from schedlab.schedules.plateau import Plateau, policy_from_spec

CONTEXT = {"best_lr": 0.001, "best_constant": "constant_0.001",
           "best_constant_test": "constant_0.001_test"}  # fmt: skip


def schedules(name: str, epochs: int) -> dict[str, object]:
    exp = get_experiment(name)
    variant = exp.variant(epochs=epochs)
    return {
        label: policy_from_spec(spec)
        for stage in exp.stages for sweep in stage.sweeps(variant, CONTEXT)
        for label, spec in sweep.schedules
    }  # fmt: skip


SOURCE_MNIST = {  # the source's rate at epoch e (0-based), 100 epochs
    "constant": lambda e: 0.1,
    "steplr": lambda e: 0.1 * 0.5 ** (e // 20),
    "exponentiallr": lambda e: 0.1 * 0.95**e,
    "cosine": lambda e: 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 100)) / 2,
    "cyclic": lambda e: 0.001 + (0.1 - 0.001) * (1 - abs(e / 20 - 2 * math.floor(e / 40) - 1)),
}
SOURCE_FASHION = {
    "constant": lambda e: 0.01,
    "time_based": lambda e: compounding_rate(0.5, 0.005, e),
    "inverse_time": lambda e: 0.5 / (1 + 0.005 * e),
    "exponential": lambda e: 0.5 * math.exp(-0.1 * e),
    "step": lambda e: 0.5 * 0.8 ** math.floor(e / 10),
    "linear": lambda e: (0.5 - 1e-4) * (1 - e / 100) + 1e-4,
}


@pytest.mark.parametrize(
    ("name", "source"), [("mnist-five", SOURCE_MNIST), ("fashion-choose", SOURCE_FASHION)]
)
@pytest.mark.parametrize("epochs", [100, 50, 25])
def test_schedules_are_the_sources_compressed_in_time(name, source, epochs) -> None:
    ours = schedules(name, epochs)
    ratio = 100 // epochs
    for label, fn in source.items():
        got = [ours[label](e) for e in range(epochs)]
        want = [fn(e * ratio) for e in range(epochs)]
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{name} {label} at {epochs}")


def test_plateau_and_adam_members() -> None:
    full, half = schedules("mnist-five", 100), schedules("mnist-five", 50)
    assert isinstance(full["plateau"], Plateau)
    assert full["plateau"].spec()["patience"] == 10 and half["plateau"].spec()["patience"] == 5
    exp = get_experiment("fashion-choose")
    sweeps = exp.stages[0].sweeps(exp.variant(), {})
    assert [s.config.optimizer for s in sweeps] == ["sgd", "adam", "sgd"]
    assert sweeps[0].config.batch_size == 64 and sweeps[0].config.train_size == 20_000
    assert sweeps[2].config.val_fraction == 0 and sweeps[2].schedules == (
        ("constant_test", "constant(lr=0.01)"),
    )


@pytest.mark.parametrize("epochs", [100, 25])
def test_mnist_sensitivity_is_every_schedule_from_adams_default_rate(epochs) -> None:
    ours = schedules("mnist-five", epochs)
    for label in ("steplr", "exponentiallr", "cosine", "linear", "cyclic"):
        at_default = ours[f"{label}@0.001"]
        got = [at_default(e) for e in range(epochs)]
        want = [ours[label](e) / 100 for e in range(epochs)]
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=label)
    assert ours["plateau@0.001"].spec()["lr"] == 0.001
    assert ours["linear"](0) == 0.1 and ours["linear"](epochs) == pytest.approx(0.001)


def test_vit_decays_span_the_whole_run_per_step() -> None:
    exp = get_experiment("vit-linear")
    variant = exp.variant(epochs=10, train_size=6000)
    (decays,) = exp.stages[1].sweeps(variant, CONTEXT)
    steps = total_steps(decays.config)
    assert steps == 10 * math.ceil(4800 / 128)
    constant, linear, cosine = (policy_from_spec(spec) for _, spec in decays.schedules)
    assert decays.schedules[0][0] == "constant_0.001_test" and constant(steps) == 0.001
    assert linear(0) == 0.001 and linear(steps) == 0.0 and linear(steps // 2) == pytest.approx(5e-4)
    warm = round(0.05 * steps)
    assert cosine(0) == 0.0 and cosine(warm) == pytest.approx(0.001) and cosine(steps) == 0.0


def test_variants_and_names() -> None:
    exp = EXPERIMENTS["mnist-five"]
    design = tuple(range(100, 110))
    assert exp.variant() == Variant(100, 12_500, design, "design") and exp.design.seeds == design
    assert exp.variant(pilot=True) == Variant(100, 12_500, (0, 1, 2), "pilot")
    assert exp.variant(quick=True) == Variant(6, 2_000, (0, 1, 2), "quick")
    assert exp.variant(quick=True, seeds=5).seeds == (0, 1, 2, 3, 4)
    assert exp.variant(epochs=50).label == "custom" and exp.variant(seeds=3).label == "custom"
    sweep = exp.stages[0].sweeps(exp.variant(), {})[0]
    assert sweep.name("mnist-five", exp.variant()) == "mnist-five/main/e100-n12500-s100-109"
    assert sweep.name("mnist-five", exp.variant(pilot=True)) == "mnist-five/main/e100-n12500-s3"
    assert sweep.name("mnist-five", Variant(5, None, (4, 7))) == "mnist-five/main/e100-n12500-s4,7"
    vit = EXPERIMENTS["vit-linear"]
    (choice,) = vit.stages[0].sweeps(vit.variant(), {})
    assert choice.seeds(vit.variant()) == tuple(range(100, 105))  # selection: 5 seeds
    assert choice.name("vit-linear", vit.variant()) == "vit-linear/constants/e10-n30000-s100-104"


def test_every_judged_claim_has_ten_seeds_a_reading_and_a_family() -> None:
    for exp in EXPERIMENTS.values():
        assert len(exp.design.seeds) >= 10 and not set(exp.design.seeds) & {0, 1, 2}
        for claim in exp.claims:
            assert claim.quote, claim.text
            assert claim.readings and all(r.sesoi > 0 for r in claim.readings)
        assert exp.untested and all(why for _, why in exp.untested)
    with pytest.raises(ValueError, match="variant: epochs must be an integer >= 1; got 0"):
        Variant(0, 100, (0,))
    with pytest.raises(ValueError, match="seeds must be distinct and non-empty"):
        Variant(3, 100, (1, 1))
    with pytest.raises(ValueError, match="experiment must be one of mnist-five, fashion-choose"):
        get_experiment("mnist")
