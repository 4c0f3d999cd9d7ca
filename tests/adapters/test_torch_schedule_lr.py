"""ScheduleLR: a real PyTorch LRScheduler whose rates are schedule(t), bit for bit."""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
import schedlab.adapters.torch as adapter
from schedlab.adapters.torch import ScheduleLR
from schedlab.errors import ConfigError

SPECS = [
    "constant(0.1)",
    "step(lr=0.1, step_size=3, gamma=0.5)",
    "multistep(0.1, milestones=[2, 5, 9], gamma=0.3)",
    "exponential(0.1, gamma=0.9)",
    "inverse_time(0.1, decay_rate=0.5, every=2, staircase=true)",
    "polynomial(0.1, steps=17, power=2.0, end_lr=0.001, cycle=true)",
    "linear(0.0, 0.1, steps=7)",
    "cosine(lr=0.1, steps=20, min_lr=0.001)",
    "cosine_restarts(0.1, period=5, t_mult=2, m_mul=0.5)",
    "cyclic(0.01, 0.1, step_size_up=4, step_size_down=2, mode='triangular2')",
    "one_cycle(0.1, steps=30, three_phase=true)",
    "warmup(cosine(lr=0.1, steps=20), steps=5)",
    "wsd(0.1, steps=30, decay_steps=10, warmup_steps=5, decay='1-sqrt')",
    "inverse_sqrt(0.1, warmup_steps=4)",
    "piecewise_constant([3, 8], [0.1, 0.05, 0.01])",
    "piecewise_linear([[0, 0.0], [4, 0.1], [30, 0.0]])",
    "sequence([linear(0.0, 0.1, steps=5), cosine(0.1, steps=20)], boundaries=[5])",
    "scale(cosine(0.1, steps=20), by=linear(1.0, 0.5, steps=20))",
]


@contextlib.contextmanager
def small_chunks(size: int = 7) -> Iterator[None]:
    """Make the value cache refill every few steps, so tests cross chunk boundaries."""
    old = adapter.CHUNK
    adapter.CHUNK = size
    try:
        yield
    finally:
        adapter.CHUNK = old


def make_opt(lrs=(0.1,), kind=torch.optim.SGD, **kw) -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return kind(groups, **kw)


def trace(opt: torch.optim.Optimizer, sched, n: int, keys=("lr",)) -> dict[str, np.ndarray]:
    """Values of each key used by ``n`` optimizer steps (rows: groups, columns: steps)."""
    seen: dict[str, list] = {key: [] for key in keys}
    for _ in range(n):
        for key in keys:
            seen[key].append([_get(g, key) for g in opt.param_groups])
        opt.step()
        sched.step()
    return {
        key: np.array(v, dtype=np.float64).reshape(n, len(opt.param_groups)).T
        for key, v in seen.items()
    }


def run(opt: torch.optim.Optimizer, sched, n: int, key: str = "lr") -> np.ndarray:
    """Values of ``key`` used by ``n`` optimizer steps (rows: groups)."""
    return trace(opt, sched, n, (key,))[key]


def _get(group: dict, key: str) -> float:
    value = group["betas"][0] if key == "betas" else group[key]
    return float(value)


@pytest.mark.parametrize("spec", SPECS)
def test_rates_are_schedule_values_bitwise(spec: str) -> None:
    schedule = schedlab.from_spec(spec)
    n = 40
    with small_chunks():
        opt = make_opt()
        rates = run(opt, ScheduleLR(opt, spec), n)[0]
    expected = schedule(np.arange(n))
    assert rates.tolist() == expected.tolist()  # exact, across several chunk refills
    # Scalar calls go through numpy's scalar math (libm pow/sin), arrays through its SIMD loops:
    # they may differ in the last bit, so the adapter's reference is the vectorized evaluation.
    scalars = np.array([schedule(t) for t in range(n)])
    np.testing.assert_array_max_ulp(rates, scalars, maxulp=4)


def test_giant_counter_and_epoch_jump() -> None:
    schedule = schedlab.cosine_restarts(0.1, period=1000)
    opt = make_opt()
    sched = ScheduleLR(opt, schedule, last_epoch=10**9 - 1)
    assert opt.param_groups[0]["lr"] == schedule(10**9)
    sched.step(5)  # PyTorch's deprecated step(epoch): a jump, closed form here
    assert opt.param_groups[0]["lr"] == schedule(5) and sched.last_epoch == 5
    assert sched.get_last_lr() == [schedule(5)] == sched.get_lr()


@pytest.mark.parametrize(
    ("kw", "t_of_k"),
    [
        ({"unit": "epoch", "steps_per_epoch": 3}, lambda k: k // 3),
        ({"unit": "epoch", "steps_per_epoch": 3, "within_epoch": "continuous"}, lambda k: k / 3),
        ({"interval": "epoch", "unit": "step", "steps_per_epoch": 3}, lambda k: k * 3),
        ({"interval": "epoch"}, lambda k: k),
    ],
)
def test_units(kw: dict, t_of_k) -> None:
    schedule = schedlab.from_spec("warmup(cosine(0.1, steps=12), steps=2)")
    opt = make_opt()
    rates = run(opt, ScheduleLR(opt, schedule, **kw), 30)[0]
    k = np.arange(30)
    assert rates.tolist() == schedule(t_of_k(k).astype(np.float64)).tolist()


@pytest.mark.filterwarnings("ignore:ScheduleLR. the optimizer was built with:UserWarning")
def test_groups_keep_their_ratio_to_group_zero() -> None:
    schedule = schedlab.from_spec("warmup(cosine(1.0, steps=20), steps=5)")  # schedule(0) == 0
    opt = make_opt(lrs=(0.2, 0.02, 0.2))
    rates = run(opt, ScheduleLR(opt, schedule), 25)
    expected = schedule(np.arange(25))
    assert rates[0].tolist() == expected.tolist()
    assert rates[2].tolist() == expected.tolist()  # equal initial rates: ratio exactly 1
    assert rates[1].tolist() == (expected * (0.02 / 0.2)).tolist()
    opt = make_opt(lrs=(0.2, 0.02))
    rates = run(opt, ScheduleLR(opt, schedule, group_scales=[1.0, 0.5]), 10)
    assert rates[1].tolist() == (schedule(np.arange(10)) * 0.5).tolist()


@pytest.mark.filterwarnings("ignore:ScheduleLR. the optimizer was built with:UserWarning")
def test_one_schedule_per_group() -> None:
    specs = ["cosine(0.1, steps=10)", "linear(0.0, 0.01, steps=5)"]
    opt = make_opt(lrs=(1.0, 3.0))
    rates = run(opt, ScheduleLR(opt, specs), 12)
    for row, spec in zip(rates, specs, strict=True):
        assert row.tolist() == schedlab.from_spec(spec)(np.arange(12)).tolist()


def test_any_hyperparameter_from_a_spec() -> None:
    groups = [
        {"params": [torch.zeros(2, requires_grad=True)], "weight_decay": 0.01},
        {"params": [torch.zeros(2, requires_grad=True)], "weight_decay": 0.0},  # e.g. biases
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3)
    wd = schedlab.cosine(0.01, steps=8, min_lr=0.001)
    sched = ScheduleLR(opt, "constant(0.001)", hyperparams={"weight_decay": wd})
    values = run(opt, sched, 10, key="weight_decay")
    assert values[0].tolist() == wd(np.arange(10)).tolist()
    assert values[1].tolist() == [0.0] * 10  # keeps its ratio (0) to group 0


@pytest.mark.parametrize(
    ("kw", "opt_kind", "opt_kw", "key"),
    [
        (
            {"three_phase": False, "anneal_strategy": "cos"},
            torch.optim.SGD,
            {"momentum": 0.9},
            "momentum",
        ),
        (
            {"three_phase": True, "anneal_strategy": "linear"},
            torch.optim.SGD,
            {"momentum": 0.9},
            "momentum",
        ),
        ({"three_phase": False, "anneal_strategy": "cos"}, torch.optim.Adam, {}, "betas"),
    ],
)
def test_one_cycle_momentum_matches_pytorch(kw, opt_kind, opt_kw, key) -> None:
    n = 50
    opt = make_opt(kind=opt_kind, **opt_kw)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=n, pct_start=0.3, **kw)
    expected = trace(opt, ref, n - 1, ("lr", key))  # PyTorch raises after step n - 1
    spec = schedlab.one_cycle(
        0.1, steps=n, pct_start=0.3, anneal=kw["anneal_strategy"], three_phase=kw["three_phase"]
    )
    opt = make_opt(kind=opt_kind, **opt_kw)
    ours = trace(opt, ScheduleLR(opt, spec), n - 1, ("lr", key))
    np.testing.assert_allclose(ours[key], expected[key], rtol=1e-13, atol=0)
    np.testing.assert_allclose(ours["lr"], expected["lr"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_momentum_matches_pytorch(mode: str) -> None:
    n = 40
    opt = make_opt(momentum=0.9)
    ref = torch.optim.lr_scheduler.CyclicLR(
        opt, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5, mode=mode, gamma=0.97
    )
    ref_m = run(opt, ref, n, key="momentum")[0]
    opt = make_opt(momentum=0.9)
    spec = schedlab.cyclic(0.01, 0.1, step_size_up=3, step_size_down=5, mode=mode, gamma=0.97)
    sched = ScheduleLR(opt, spec, base_momentum=0.8, max_momentum=0.9)
    np.testing.assert_allclose(run(opt, sched, n, key="momentum")[0], ref_m, rtol=1e-13)


def test_momentum_defaults_and_switches() -> None:
    opt = make_opt(momentum=0.9)
    ScheduleLR(opt, "cosine(0.1, steps=10)")
    assert opt.param_groups[0]["momentum"] == 0.9  # not a cyclical kind: untouched
    opt = make_opt()  # SGD without momentum: its 'momentum' key is 0 but exists
    ScheduleLR(opt, "one_cycle(0.1, steps=10)", cycle_momentum=False)
    assert opt.param_groups[0]["momentum"] == 0
    opt = make_opt(kind=torch.optim.Adagrad)
    ScheduleLR(opt, "one_cycle(0.1, steps=10)")  # no momentum to cycle: off by default
    with pytest.raises(ValueError, match="cycle_momentum must be False for an optimizer without"):
        ScheduleLR(opt, "one_cycle(0.1, steps=10)", cycle_momentum=True)
    with pytest.raises(ValueError, match="cycle_momentum must be False unless the schedule kind"):
        ScheduleLR(make_opt(momentum=0.9), "cosine(0.1, steps=10)", cycle_momentum=True)


def test_tensor_learning_rate_is_filled_in_place() -> None:
    opt = make_opt(kind=torch.optim.Adam, lrs=(torch.tensor(0.1),))
    lr_tensor = opt.param_groups[0]["lr"]
    schedule = schedlab.cosine(0.1, steps=10)
    values = run(opt, ScheduleLR(opt, schedule, cycle_momentum=False), 10)[0]
    assert opt.param_groups[0]["lr"] is lr_tensor
    np.testing.assert_array_equal(values, schedule(np.arange(10)).astype(np.float32))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"interval": "batch"}, "ScheduleLR: interval must be one of 'step', 'epoch', got 'batch'"),
        (
            {"unit": "epoch"},
            "ScheduleLR: steps_per_epoch must be a positive integer with unit='epoch'",
        ),
        ({"steps_per_epoch": 10}, "ScheduleLR: steps_per_epoch is only used with unit='epoch'"),
        ({"unit": "iteration"}, "ScheduleLR: unit must be one of 'step', 'epoch', got 'iteration'"),
        (
            {"within_epoch": "floor"},
            "ScheduleLR: within_epoch must be one of 'constant', 'continuous'",
        ),
        (  # where it has no effect: a step-written schedule, or one stepped per epoch
            {"within_epoch": "continuous"},
            "ScheduleLR: within_epoch applies only to a schedule written in epochs and stepped",
        ),
        (
            {"interval": "epoch", "within_epoch": "constant"},
            "ScheduleLR: within_epoch applies only to a schedule written in epochs and stepped",
        ),
        ({"last_epoch": -2}, "ScheduleLR: last_epoch must be an integer >= -1, got -2"),
        ({"group_scales": [1.0]}, "ScheduleLR: group_scales must be a list of 2 finite numbers"),
        (
            {"hyperparams": {"decay": "constant(0.1)"}},
            "ScheduleLR: hyperparams must be keys of every",
        ),
    ],
)
def test_invalid_arguments(kw: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        ScheduleLR(make_opt(lrs=(0.1, 0.1)), "cosine(0.1, steps=10)", **kw)
    assert str(err.value).startswith(message)


def test_invalid_schedule_and_groups() -> None:
    with pytest.raises(ValueError, match="cosine: steps must be a positive integer, got 0"):
        ScheduleLR(make_opt(), "cosine(0.1, steps=0)")
    with pytest.raises(ValueError, match=r"group 0, whose lr is 0\.0"):
        ScheduleLR(make_opt(lrs=(0.0, 0.1)), "cosine(0.1, steps=10)")
    with pytest.raises(ValueError, match="a list of 2 \\(one per parameter group\\)"):
        ScheduleLR(make_opt(lrs=(0.1, 0.1)), ["cosine(0.1, steps=10)"])


def checkpoint(obj) -> dict:
    """A state dict after a real torch.save/torch.load round trip."""
    buffer = io.BytesIO()
    torch.save(obj.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


RESUME_CASES = [
    ({}, {"momentum": 0.9}, "one_cycle(0.1, steps=60)"),
    ({"unit": "epoch", "steps_per_epoch": 7, "within_epoch": "continuous"}, {}, SPECS[11]),
    (
        {"hyperparams": {"weight_decay": "linear(0.01, 0.0, steps=30)"}},
        {"weight_decay": 0.01},
        SPECS[9],
    ),
    ({}, {}, SPECS[16]),
]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(RESUME_CASES),
    st.integers(0, 59),
    st.sampled_from([(0.1,), (0.1, 0.03)]),
    st.booleans(),
)
def test_resume_at_any_step_is_bitwise_identical(case, stop: int, lrs, scheduler_first) -> None:
    kw, opt_kw, spec = case
    n = 60
    with small_chunks(16):
        opt = make_opt(lrs, **opt_kw)
        whole = run(opt, ScheduleLR(opt, spec, **kw), n)

        opt = make_opt(lrs, **opt_kw)
        sched = ScheduleLR(opt, spec, **kw)
        first = run(opt, sched, stop)
        opt_state, sched_state = checkpoint(opt), checkpoint(sched)

        opt = make_opt(lrs, **opt_kw)  # fresh objects, as after a restart
        sched = ScheduleLR(opt, spec, **kw)
        if scheduler_first:  # optimizer.load_state_dict replaces its param_groups dicts
            sched.load_state_dict(sched_state)
            opt.load_state_dict(opt_state)
        else:
            opt.load_state_dict(opt_state)
            sched.load_state_dict(sched_state)
        rest = run(opt, sched, n - stop)
    assert np.concatenate([first, rest], axis=1).tolist() == whole.tolist()


def test_resume_restores_hyperparameters_even_without_optimizer_state() -> None:
    opt = make_opt(momentum=0.9)
    sched = ScheduleLR(opt, "one_cycle(0.1, steps=20)")
    run(opt, sched, 9)
    expected = dict(opt.param_groups[0])
    opt2 = make_opt(momentum=0.9)
    sched2 = ScheduleLR(opt2, "one_cycle(0.1, steps=20)")
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == expected["lr"]
    assert opt2.param_groups[0]["momentum"] == expected["momentum"]


def test_state_dict_checks() -> None:
    opt = make_opt()
    state = ScheduleLR(opt, "cosine(0.1, steps=10)").state_dict()
    assert state["format"] == "schedlab.torch.ScheduleLR" and state["version"] == 1
    other = ScheduleLR(make_opt(), "cosine(0.1, steps=11)")
    with pytest.raises(ValueError, match=r"different configuration \(\['schedules'\]\)"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="state_dict must be a dict from ScheduleLR"):
        other.load_state_dict({"last_epoch": 3})


def test_is_a_real_lr_scheduler() -> None:
    opt = make_opt()
    sched = ScheduleLR(opt, "cosine(0.1, steps=10)")
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert sched.optimizer is opt and sched.last_epoch == 0
    assert sched.get_last_lr() == [0.1] and sched.base_lrs == [0.1]


# --- hardening: what broke when the library was tried as a new user would -------------------------


def test_get_last_lr_keeps_group_order_with_a_tensor_rate() -> None:
    groups = [
        {"params": [torch.zeros(2, requires_grad=True)], "lr": torch.tensor(0.2)},
        {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.02},
        {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.002},
    ]
    opt = torch.optim.Adam(groups)
    sched = ScheduleLR(opt, "constant(0.2)")
    want = [float(g["lr"]) for g in opt.param_groups]
    assert sched.get_last_lr() == pytest.approx(want, rel=1e-6)  # in group order


def test_numpy_integers_are_integers() -> None:
    schedule = schedlab.cosine(0.1, steps=10)
    opt = make_opt()
    sched = ScheduleLR(opt, schedule, last_epoch=np.int64(2))
    assert opt.param_groups[0]["lr"] == schedule(3)
    sched.step(np.int64(7))
    assert sched.last_epoch == 7 and type(sched.last_epoch) is int
    assert opt.param_groups[0]["lr"] == schedule(7)
    with pytest.raises(ConfigError, match="epoch must be an integer >= 0"):
        sched.step(3.0)


def test_pickle_with_momentum_cycling_continues_identically() -> None:
    opt = make_opt(momentum=0.9)
    sched = ScheduleLR(opt, "one_cycle(0.1, steps=30)")
    run(opt, sched, 7)
    copy = pickle.loads(pickle.dumps(sched))
    a = trace(opt, sched, 20, ("lr", "momentum"))
    b = trace(copy.optimizer, copy, 20, ("lr", "momentum"))
    assert a["lr"].tolist() == b["lr"].tolist()
    assert a["momentum"].tolist() == b["momentum"].tolist()


def test_zero_group_optimizer_is_a_clear_error() -> None:
    opt = make_opt()
    opt.param_groups.clear()
    with pytest.raises(ConfigError, match="optimizer must have at least one parameter group"):
        ScheduleLR(opt, "constant(0.1)")


def test_warns_once_when_the_schedule_overrides_the_optimizers_rate() -> None:
    groups = [{"params": [torch.zeros(2, requires_grad=True)]}]
    with pytest.warns(UserWarning, match="built with lr=0.001") as caught:
        ScheduleLR(torch.optim.SGD(groups, lr=0.001), "cosine(0.1, 100)")
    assert len(caught) == 1 and "starts at lr=0.1" in str(caught[0].message)
    with pytest.warns(UserWarning, match="built with lr=0.001"):
        ScheduleLR(make_opt(lrs=(0.001, 0.0001)), "cosine(0.1, 100)")  # one warning for all groups
    quiet = [
        (make_opt(lrs=(0.1,)), "cosine(0.1, 100)"),  # the schedule's start
        (make_opt(lrs=(0.1, 0.01)), "warmup(cosine(0.1, 100), steps=10)"),  # its peak
        (make_opt(lrs=(0.1,)), "warmup(cosine(0.1, 100_000), steps=10_000)"),  # peak past a chunk
        (make_opt(lrs=(0.1,)), "one_cycle(0.1, 100)"),  # max_lr
        (make_opt(lrs=(torch.tensor(0.1),), kind=torch.optim.Adam), "cosine(0.1, 100)"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for opt, spec in quiet:
            ScheduleLR(opt, spec)
        opt = make_opt(lrs=(0.001,))
        ScheduleLR(opt, "cosine(0.1, 100)", last_epoch=5)  # resuming: the rate is the scheduler's
        ScheduleLR(opt, "cosine(0.1, 100)")  # initial_lr set by a scheduler before


def test_absolute_min_lr_matches_cosine_annealing_lr_in_every_group() -> None:
    n, lrs, floor = 30, (0.1, 0.01), 0.005
    opt = make_opt(lrs)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n, eta_min=floor)
    expected = run(opt, ref, n + 1)
    spec = schedlab.cosine(0.1, steps=n, min_lr=floor)
    opt = make_opt(lrs)
    absolute = run(opt, ScheduleLR(opt, spec, group_min_lr="absolute"), n + 1)
    np.testing.assert_allclose(absolute, expected, rtol=1e-12 + n * 4e-16)
    opt = make_opt(lrs)
    scaled = run(opt, ScheduleLR(opt, spec), n + 1)
    assert scaled[0].tolist() == absolute[0].tolist()  # group 0 follows the schedule either way
    assert scaled[1, -1] == pytest.approx(floor * 0.1) and expected[1, -1] == pytest.approx(floor)
    gap = np.max(np.abs(scaled[1] - expected[1]) / expected[1])
    assert gap > 0.5  # the scaled floor is far from PyTorch's absolute eta_min for group 1


def test_absolute_min_lr_errors_and_resume() -> None:
    with pytest.raises(ConfigError, match="group_min_lr must be one of 'scaled', 'absolute'"):
        ScheduleLR(make_opt(), "cosine(0.1, 10)", group_min_lr="torch")
    with pytest.raises(ConfigError, match="scale > 0"):
        ScheduleLR(make_opt(lrs=(0.1, 0.1)), "cosine(0.1, 10, 0.01)", group_scales=[1, 0],
                   group_min_lr="absolute")  # fmt: skip
    spec = "wsd(0.1, steps=40, decay_steps=10, min_lr=0.01)"
    opt = make_opt(lrs=(0.1, 0.05))
    whole = run(opt, ScheduleLR(opt, spec, group_min_lr="absolute"), 41)
    opt = make_opt(lrs=(0.1, 0.05))
    sched = ScheduleLR(opt, spec, group_min_lr="absolute")
    first = run(opt, sched, 25)
    state = checkpoint(sched)
    opt = make_opt(lrs=(0.1, 0.05))
    sched = ScheduleLR(opt, spec, group_min_lr="absolute")
    sched.load_state_dict(state)
    assert np.concatenate([first, run(opt, sched, 16)], axis=1).tolist() == whole.tolist()
    assert whole[1, -1] == pytest.approx(0.01)
    old = {**state, "config": {k: v for k, v in state["config"].items() if k != "group_min_lr"}}
    ScheduleLR(make_opt(lrs=(0.1, 0.05)), spec).load_state_dict(old)  # payloads from before


def test_repr_shows_the_schedule_and_the_counter() -> None:
    opt = make_opt()
    sched = ScheduleLR(opt, "step(0.1, 30)", unit="epoch", steps_per_epoch=100)
    assert repr(sched) == (
        "ScheduleLR(step(lr=0.1, step_size=30, gamma=0.1), interval='step', unit='epoch', "
        "steps_per_epoch=100, last_epoch=0)"
    )
    opt = make_opt(lrs=(0.1, 0.01))
    sched = ScheduleLR(opt, ["constant(0.1)", "constant(0.01)"])
    sched.step()
    assert repr(sched) == (
        "ScheduleLR([constant(lr=0.1), constant(lr=0.01)], interval='step', last_epoch=1)"
    )


def test_a_step_schedule_stepped_less_often_than_its_interval_warns() -> None:
    opt = make_opt()
    sched = ScheduleLR(opt, "cosine(0.1, 100)")
    for _ in range(8):
        opt.step()
    with pytest.warns(UserWarning, match="interval='epoch', unit='step', steps_per_epoch=8"):
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(8):
            opt.step()
        sched.step()  # checked once
        opt = make_opt()
        sched = ScheduleLR(opt, "cosine(0.1, 100)", interval="epoch", unit="step",
                           steps_per_epoch=8)  # fmt: skip
        for _ in range(8):
            opt.step()
        sched.step()
        opt = make_opt()
        sched = ScheduleLR(opt, "cosine(0.1, 100)")
        sched.step()  # before any optimizer step: not counted
        opt.step()
        sched.step()
    opt = make_opt()
    sched = ScheduleLR(opt, "cosine(0.1, 100)", interval="epoch", unit="step", steps_per_epoch=4)
    for _ in range(8):
        opt.step()
    with pytest.warns(UserWarning, match="pass steps_per_epoch=8"):
        sched.step()
