"""Rung budgets, Hyperband brackets, the equal-footing rule and where runs may fork."""

from __future__ import annotations

import numpy as np
import pytest

from schedlab.errors import ConfigError
from schedlab.lab.searches.families import parse_family
from schedlab.lab.searches.rungs import brackets, rates, rung_epochs, shared_epochs, survivors
from schedlab.schedules.plateau import policy_from_spec

LR = {"lr": "loguniform(1e-3, 1)"}


@pytest.mark.parametrize(
    ("epochs", "eta", "low", "expected"),
    [(9, 3, 1, (1, 3, 9)), (27, 3, 1, (1, 3, 9, 27)), (8, 2, 1, (1, 2, 4, 8)), (8, 3, 1, (3, 8)),
     (20, 3, 2, (2, 7, 20)), (9, 3, 4, (9,)), (1, 3, 1, (1,))],
)  # fmt: skip
def test_rung_budgets(epochs, eta, low, expected) -> None:
    assert rung_epochs(epochs, eta, low) == expected


def test_explicit_rungs_and_bad_ones() -> None:
    assert rung_epochs(10, 3, rungs=[2, 5, 10]) == (2, 5, 10)
    with pytest.raises(ConfigError, match="the last rung must be the full run"):
        rung_epochs(10, 3, rungs=[2, 5])
    with pytest.raises(ConfigError, match="increasing positive"):
        rung_epochs(10, 3, rungs=[5, 2, 10])
    with pytest.raises(ConfigError, match="eta must be an integer >= 2"):
        rung_epochs(10, 1)


def test_hyperband_brackets_follow_li_et_al() -> None:
    # R = 9 epochs, eta = 3: brackets of 9 at 1 epoch, 5 at 3 epochs, 3 at 9 epochs
    assert [(b.first, b.size) for b in brackets(9, 3, 3, 3)] == [(0, 9), (1, 5), (2, 3)]
    assert [(b.first, b.size) for b in brackets(9, 3, 3, 1)] == [(0, 9)]
    assert [survivors(n, 3) for n in (9, 3, 2, 1)] == [3, 1, 1, 1]


@pytest.mark.parametrize(
    "template",
    ["cosine(lr=?, steps=E)", "linear(?, 0, E)", 'wsd(lr=?, steps=E, decay_steps=0.2*E, decay="1-sqrt")',
     "one_cycle(max_lr=?, steps=E)", "warmup(cosine(lr=?, steps=E - round(0.05*E)), steps=0.05*E)",
     "cosine(lr=?, steps=E, min_lr=0.1*lr)"],
)  # fmt: skip
def test_equal_footing_every_rung_runs_the_whole_compressed_schedule(template) -> None:
    """At a rung of b epochs the member is the family with E = b epochs of steps: it has
    annealed to its end value by the end of the rung, exactly as the full run does at its end."""
    fam = parse_family("f", template, LR)
    spe, full = 10, 9
    end = policy_from_spec(fam.spec({fam.names[0]: 0.1}, full * spe))(full * spe)
    for budget in (1, 3, 9):
        spec = fam.spec({fam.names[0]: 0.1}, budget * spe)
        policy = policy_from_spec(spec)
        assert policy.horizon is not None and policy.horizon <= budget * spe
        assert policy(budget * spe) == pytest.approx(end, abs=1e-12)
        r = rates(spec, budget, spe, "step")
        assert r.max() == pytest.approx(0.1)  # the same peak at every budget


def test_wsd_rungs_fork_from_the_trunk_at_80_percent() -> None:
    fam = parse_family("w", 'wsd(lr=?, steps=E, decay_steps=0.2*E, decay="1-sqrt")', LR)
    spe = 125
    top = fam.spec({"lr": 0.1}, 9 * spe)
    got = [shared_epochs(fam.spec({"lr": 0.1}, b * spe), top, b, spe, "step") for b in (1, 3, 9)]
    assert got == [0, 2, 9]  # 0.8 * 125 = 100 steps < 1 epoch; 0.8 * 375 = 300 -> 2; the trunk
    assert shared_epochs(top, fam.spec({"lr": 0.1}, 27 * spe), 9, spe, "step") == 7  # 0.8 * 9
    # per epoch, a 1-epoch cooldown starts at its peak (HF's decay at progress 0): all 3 rates equal
    # the trunk's, so the rung run is the trunk's first 3 epochs -- the rule compares rates
    assert shared_epochs(fam.spec({"lr": 0.1}, 3), fam.spec({"lr": 0.1}, 9), 3, 7, "epoch") == 3
    assert shared_epochs(fam.spec({"lr": 0.1}, 10), fam.spec({"lr": 0.1}, 30), 10, 7, "epoch") == 9


def test_constant_and_schedule_free_rungs_are_prefixes_cosine_is_not() -> None:
    for template in ("constant(?)", "schedule_free(constant(?))"):
        fam = parse_family("c", template, LR)
        assert (
            shared_epochs(fam.spec({"lr": 0.1}, 30), fam.spec({"lr": 0.1}, 90), 3, 10, "step") == 3
        )
    cos = parse_family("c", "cosine(lr=?, steps=E)", LR)
    assert shared_epochs(cos.spec({"lr": 0.1}, 30), cos.spec({"lr": 0.1}, 90), 3, 10, "step") == 0
    # the same rates but another optimizer: no fork
    assert shared_epochs("constant(0.1)", "schedule_free(constant(0.1))", 3, 10, "step") == 0
    assert (
        shared_epochs(
            "schedule_free(constant(0.1))", "schedule_free(constant(0.1), r=1)", 3, 10, "step"
        )
        == 0
    )
    assert shared_epochs("plateau(lr=0.1)", "plateau(lr=0.1)", 3, 10, "step") == 0


def test_rates_per_step_and_per_epoch() -> None:
    assert np.array_equal(rates("linear(1.0, 0.0, 4)", 2, 2, "step"), [1.0, 0.75, 0.5, 0.25])
    assert np.array_equal(rates("linear(1.0, 0.0, 4)", 2, 2, "epoch"), [1.0, 1.0, 0.75, 0.75])
