"""schedlab.Plateau: bitwise equal to PyTorch ReduceLROnPlateau, plus NaN handling, warmup, specs."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
from schedlab.errors import ConfigError
from schedlab.schedules.plateau import Plateau, policy_from_spec

params = st.fixed_dictionaries(
    {
        "lr": st.floats(1e-4, 10.0),
        "mode": st.sampled_from(["min", "max"]),
        "factor": st.floats(0.0, 0.99),
        "patience": st.integers(0, 4),
        "threshold": st.floats(0.0, 0.5),
        "threshold_mode": st.sampled_from(["rel", "abs"]),
        "cooldown": st.integers(0, 3),
        "min_lr": st.sampled_from([0.0, 1e-6, 1e-3]),
        "eps": st.sampled_from([0.0, 1e-8, 1e-3]),
    }
)
# Metric streams with plateaus (repeated values) and finite extremes.
metrics = st.lists(
    st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0.0, 1.0, 1.0, 2.0])),
    min_size=1,
    max_size=60,
)


def torch_rates(kw: dict, stream: list[float]) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=kw["lr"])
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, **{k: v for k, v in kw.items() if k != "lr"}
    )
    out = []
    for m in stream:
        ref.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


@settings(max_examples=150, deadline=None)
@given(params, metrics)
def test_bitwise_equal_to_reduce_lr_on_plateau(kw: dict, stream: list[float]) -> None:
    plateau = Plateau(**kw)
    ours = [plateau.update(m) for m in stream]
    assert ours == torch_rates(kw, stream)  # exact float equality, step by step
    assert plateau.lr == ours[-1]


def test_hand_derived_sequence() -> None:
    pl = Plateau(1.0, factor=0.5, patience=1, cooldown=1, threshold=0.0)
    # best=3 | 3 bad(1) | 3 bad(2)>1 -> 0.5, cooldown | cooled (bad reset) | bad(1) | bad(2) -> 0.25
    assert [pl.update(m) for m in (3, 3, 3, 3, 3, 3)] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert pl.best == 3.0


def test_min_lr_and_eps() -> None:
    pl = Plateau(1.0, factor=0.1, patience=0, min_lr=0.05)
    assert [pl.update(m) for m in (1, 1, 1, 1)] == [1.0, 0.1, 0.05, 0.05]
    pl = Plateau(1.0, factor=0.5, patience=0, eps=0.6)  # a drop of 0.5 <= eps is skipped
    assert [pl.update(m) for m in (1, 1)] == [1.0, 1.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_non_finite_metric_warns_and_counts_as_no_improvement(bad: float, mode: str) -> None:
    good = 1.0
    pl = Plateau(1.0, mode=mode, patience=1, factor=0.5)
    pl.update(good)
    with pytest.warns(RuntimeWarning, match="counted as no improvement"):
        assert pl.update(bad) == 1.0
    assert pl.best == good  # never becomes the best (PyTorch makes -inf the best in min mode)
    with pytest.warns(RuntimeWarning):
        assert pl.update(bad) == 0.5  # the second bad update exceeds patience=1


def test_finite_metrics_do_not_warn() -> None:
    pl = Plateau(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pl.update(torch.tensor(0.5))  # 0-d tensors are accepted like PyTorch's float(metrics)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"lr": -1.0}, "plateau: lr must be a finite number >= 0, got -1.0"),
        ({"lr": 0.1, "factor": 1.0}, "plateau: factor must be a number in [0, 1), got 1.0"),
        (
            {"lr": 0.1, "mode": "minimum"},
            "plateau: mode must be one of 'min', 'max', got 'minimum'",
        ),
        ({"lr": 0.1, "patience": 1.5}, "plateau: patience must be an integer >= 0, got 1.5"),
        ({"lr": 0.1, "threshold_mode": "x"}, "plateau: threshold_mode must be one of 'rel', 'abs'"),
        ({"lr": 0.1, "cooldown": True}, "plateau: cooldown must be an integer >= 0, got True"),
        (
            {"lr": 0.1, "warmup_unit": "epoch"},
            "plateau: warmup_unit must be one of 'update', 'step'",
        ),
    ],
)
def test_invalid_parameters(kw: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        Plateau(**kw)
    assert str(err.value).startswith(message)


def test_invalid_metric() -> None:
    with pytest.raises(ValueError, match="plateau: metric must be a number, got 'low'"):
        Plateau(0.1).update("low")


@settings(max_examples=40, deadline=None)
@given(params, metrics, st.data())
def test_state_round_trip_resumes_identically(kw: dict, stream: list[float], data) -> None:
    cut = data.draw(st.integers(0, len(stream)))
    whole = Plateau(**kw)
    expected = [whole.update(m) for m in stream]
    first = Plateau(**kw)
    got = [first.update(m) for m in stream[:cut]]
    state = json.loads(json.dumps(first.state_dict()))  # the payload survives JSON
    resumed = Plateau(**kw)
    resumed.load_state_dict(state)
    assert resumed == first
    got += [resumed.update(m) for m in stream[cut:]]
    assert got == expected
    assert Plateau.from_state_dict(whole.state_dict()) == whole


def test_state_checks() -> None:
    state = Plateau(0.1, patience=3).state_dict()
    with pytest.raises(ValueError, match=r"different parameters \['patience'\]"):
        Plateau(0.1, patience=4).load_state_dict(state)
    with pytest.raises(ValueError, match="state version must be 1, got 2"):
        Plateau(0.1, patience=3).load_state_dict({**state, "version": 2})
    with pytest.raises(ValueError, match=r"state must be a dict from Plateau\.state_dict"):
        Plateau(0.1).load_state_dict({"lr": 0.1})


def test_warmup_per_update_then_plateau() -> None:
    pl = Plateau(1.0, patience=0, factor=0.5, warmup_steps=4, warmup_start_lr=0.0)
    assert pl.lr == 0.0
    # warming up: rates follow schedlab.linear(0, 1, 4); worsening metrics are not counted as bad
    assert [pl.update(m) for m in (1, 2, 3, 4)] == [0.25, 0.5, 0.75, 1.0]
    assert not pl.warming_up and pl.best == 1.0
    assert pl.update(5) == 0.5  # first bad update after the warmup (patience=0)
    ramp = schedlab.linear(0.0, 1.0, steps=4)
    assert [Plateau(1.0, warmup_steps=4).update(0) for _ in range(1)] == [ramp(1)]


def test_warmup_per_step_ticks() -> None:
    pl = Plateau(0.8, patience=0, warmup_steps=8, warmup_start_lr=0.1, warmup_unit="step")
    ramp = schedlab.linear(0.1, 0.8, steps=8)
    assert [pl.tick() for _ in range(3)] == [ramp(t) for t in (1, 2, 3)]
    assert pl.update(1.0) == ramp(3)  # an update does not move a per-step warmup
    assert pl.update(2.0) == ramp(3)  # and worse metrics during it are not bad updates
    assert pl.tick(10) == 0.8
    assert pl.update(3.0) == pytest.approx(0.08)
    with pytest.raises(ValueError, match="tick\\(\\) advances a warmup with warmup_unit='step'"):
        Plateau(0.1).tick()


@pytest.mark.parametrize(
    "spec",
    [
        "plateau(lr=0.1, patience=5)",
        "plateau(0.1, patience=5)",
        {"kind": "plateau", "lr": 0.1, "patience": 5},
        '{"kind": "plateau", "lr": 0.1, "patience": 5}',
        "kind: plateau\nlr: 0.1\npatience: 5\n",
    ],
)
def test_policy_from_spec_plateau_forms(spec) -> None:
    pl = policy_from_spec(spec)
    assert isinstance(pl, Plateau)
    assert pl == Plateau(0.1, patience=5)
    assert policy_from_spec(pl.spec()) == pl
    assert schedlab.policy_from_spec is policy_from_spec


@pytest.mark.parametrize(
    "spec",
    [
        "cosine(lr=0.1, steps=10)",
        {"kind": "cosine", "lr": 0.1, "steps": 10},
        "kind: cosine\nlr: 0.1\nsteps: 10",
    ],
)
def test_policy_from_spec_schedules(spec) -> None:
    assert policy_from_spec(spec) == schedlab.cosine(lr=0.1, steps=10)


def test_from_spec_points_plateau_to_policy_from_spec() -> None:
    for spec in ("plateau(lr=0.1)", {"kind": "plateau", "lr": 0.1}):
        with pytest.raises(ValueError, match=r"use schedlab\.policy_from_spec"):
            schedlab.from_spec(spec)


def test_policy_from_spec_errors() -> None:
    with pytest.raises(
        ValueError, match="plateau: unknown parameter 'patiense'; valid parameters: lr"
    ):
        policy_from_spec("plateau(lr=0.1, patiense=3)")
    with pytest.raises(ValueError, match="plateau: missing required parameter 'lr'"):
        policy_from_spec("plateau(patience=3)")
    with pytest.raises(ValueError, match="unknown schedule kind 'plateu'"):
        policy_from_spec("plateu(lr=0.1)")


def test_non_finite_warning_says_what_happened_to_the_rate() -> None:
    pl = Plateau(1.0, patience=1, factor=0.5, cooldown=1)
    pl.update(1.0)
    outcomes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            pl.update(math.nan)
            outcomes.append(str(caught[-1].message))
    assert "bad update 1 of the 1 tolerated, the rate stays 1.0" in outcomes[0]
    assert "the rate is reduced from 1.0 to 0.5" in outcomes[1]
    assert "in the cooldown after a reduction, the rate stays 0.5" in outcomes[2]
    floor = Plateau(1.0, patience=0, min_lr=1.0)
    with pytest.warns(RuntimeWarning, match="a reduction is due but the rate stays at its floor"):
        floor.update(math.inf)
    warm = Plateau(1.0, warmup_steps=2)
    with pytest.warns(RuntimeWarning, match="during the warmup"):
        warm.update(-math.inf)


def test_counters_are_readable() -> None:
    pl = Plateau(1.0, patience=2, cooldown=1, factor=0.5)
    for m in (1.0, 2.0, 2.0, 2.0):
        pl.update(m)
    assert (pl.bad_updates, pl.cooldown_left, pl.updates, pl.warmup_clock) == (0, 1, 4, 0)
    pl.update(2.0)
    assert (pl.bad_updates, pl.cooldown_left) == (0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"best": "low"}, "state best must be a number"),
        ({"bad_updates": -1}, "state bad_updates must be an integer >= 0"),
        ({"rate": math.nan}, "state rate must be a finite number >= 0"),
        ({"updates": 2.5}, "state updates must be an integer >= 0"),
        ({"spec": "plateau(0.1)"}, "state spec must be a dict"),
    ],
)
def test_a_refused_state_changes_nothing(change: dict, message: str) -> None:
    pl = Plateau(0.1, patience=0)
    pl.update(1.0)
    pl.update(2.0)
    before = pl.state_dict()
    with pytest.raises(ConfigError, match=message):
        pl.load_state_dict({**Plateau(0.1, patience=0).state_dict(), **change})
    assert pl.state_dict() == before
    with pytest.raises(ConfigError, match=message):
        Plateau.from_state_dict({**before, **change})
