"""PlateauLR: schedlab.Plateau driving a PyTorch optimizer, equal to ReduceLROnPlateau bit for bit."""

from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
from schedlab.adapters.torch import PlateauLR, ScheduleLR
from schedlab.errors import ConfigError
from schedlab.schedules.plateau import Plateau

streams = st.lists(st.sampled_from([3.0, 2.0, 2.0, 1.0, 1.5, 0.5, 2.5]), min_size=1, max_size=50)


def make_opt(lrs) -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups)


def rates(opt, sched, stream) -> list[list[float]]:
    out = []
    for m in stream:
        opt.step()
        sched.step(m)
        out.append([g["lr"] for g in opt.param_groups])
    return out


@settings(max_examples=60, deadline=None)
@given(
    streams,
    st.integers(0, 3),
    st.integers(0, 2),
    st.sampled_from([0.5, 0.1]),
    st.sampled_from([(0.1,), (0.1, 0.03), (0.2, 0.02, 0.2)]),
)
def test_per_group_plateaus_equal_reduce_lr_on_plateau(stream, patience, cooldown, factor, lrs):
    min_lrs = [lr / 50 for lr in lrs]
    kw = {"patience": patience, "cooldown": cooldown, "factor": factor}
    opt = make_opt(lrs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=min_lrs, **kw)
    expected = rates(opt, ref, stream)
    opt = make_opt(lrs)
    plateaus = [Plateau(lr, min_lr=m, **kw) for lr, m in zip(lrs, min_lrs, strict=True)]
    sched = PlateauLR(opt, plateaus)
    assert rates(opt, sched, stream) == expected
    assert sched.get_last_lr() == expected[-1]


def test_single_plateau_keeps_group_ratios() -> None:
    opt = make_opt((0.1, 0.05))
    sched = PlateauLR(opt, "plateau(lr=0.1, patience=0, factor=0.5)")
    seen = rates(opt, sched, [1.0, 2.0, 3.0])
    assert [row[0] for row in seen] == [0.1, 0.05, 0.025]
    assert [row[1] for row in seen] == [r[0] * 0.5 for r in seen]
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)  # Lightning/HF see it


def test_warmup_per_step_then_plateau() -> None:
    """Warm up over 6 optimizer iterations (step() without metric), then reduce on plateau."""
    opt = make_opt((0.1,))
    sched = PlateauLR(opt, Plateau(0.1, patience=1, factor=0.5, warmup_steps=6, warmup_unit="step"))
    ramp = schedlab.linear(0.0, 0.1, steps=6)
    used = []
    for epoch, metric in enumerate([1.0, 2.0, 2.0, 2.0, 2.0]):
        for _ in range(3):  # 3 iterations per epoch
            used.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        sched.step(metric)
        assert sched.plateaus[0].warming_up == (epoch < 1)
    assert used[:6] == ramp(np.arange(6)).tolist()
    # epoch 0's metric (seen during the warmup) sets best=1.0; epochs 1 and 2 are bad, so the
    # rate halves after epoch 2 (patience=1): epoch 2 runs at 0.1, epochs 3 and 4 at 0.05
    assert used[6:] == [0.1] * 3 + [0.05] * 6


def test_resume_from_checkpoint() -> None:
    stream = [3.0, 2.0, 2.5, 2.5, 2.5, 1.0, 1.0, 1.0, 1.0]
    spec = "plateau(lr=0.1, patience=1, factor=0.5, cooldown=1)"
    opt = make_opt((0.1, 0.01))
    whole = rates(opt, PlateauLR(opt, spec), stream)
    opt = make_opt((0.1, 0.01))
    sched = PlateauLR(opt, spec)
    first = rates(opt, sched, stream[:4])
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    opt = make_opt((0.1, 0.01))
    sched = PlateauLR(opt, spec)
    sched.load_state_dict(torch.load(buffer, weights_only=True))
    assert first + rates(opt, sched, stream[4:]) == whole


def test_errors() -> None:
    with pytest.raises(
        ValueError, match="plateau must be a Plateau or a plateau spec, got a 'cosine'"
    ):
        PlateauLR(make_opt((0.1,)), "cosine(0.1, steps=10)")
    with pytest.raises(ValueError, match="a list of 2 \\(one per parameter group\\), got 1"):
        PlateauLR(make_opt((0.1, 0.1)), [Plateau(0.1)])
    shared = Plateau(0.1)
    with pytest.raises(ValueError, match="distinct Plateau objects"):
        PlateauLR(make_opt((0.1, 0.1)), [shared, shared])
    with pytest.raises(ConfigError, match=r"step\(\) needs the monitored metric"):
        PlateauLR(make_opt((0.1,)), Plateau(0.1)).step()
    with pytest.raises(ConfigError, match="at least one parameter group"):
        opt = make_opt((0.1,))
        opt.param_groups.clear()
        PlateauLR(opt, Plateau(0.1))


@pytest.mark.parametrize(
    "scales", [[1.0, math.nan], [1.0, -0.5], [1.0, "x"], "ab", [1.0], [True, 1]]
)
def test_group_scales_are_validated_like_schedule_lr(scales) -> None:
    message = "group_scales must be a list of 2 finite numbers >= 0"
    with pytest.raises(ConfigError, match=message):
        PlateauLR(make_opt((0.1, 0.05)), Plateau(0.1), group_scales=scales)
    with pytest.raises(ConfigError, match=message):
        ScheduleLR(make_opt((0.1, 0.05)), "constant(0.1)", group_scales=scales)


def test_warmup_per_step_advances_with_the_optimizer_alone() -> None:
    """No step() without a metric: the optimizer's steps advance the warmup (as in Lightning and
    the HF Trainer, which never call it), and a loop that does call it does not count twice."""
    ramp = schedlab.linear(0.0, 0.1, steps=6)
    for call_step in (False, True):
        opt = make_opt((0.1, 0.05))
        sched = PlateauLR(opt, Plateau(0.1, patience=0, warmup_steps=6, warmup_unit="step"))
        used = []
        for metric in (1.0, 0.5, 0.5):
            for _ in range(3):
                used.append([g["lr"] for g in opt.param_groups])
                opt.step()
                if call_step:
                    sched.step()
            sched.step(metric)
        assert [u[0] for u in used[:6]] == ramp(np.arange(6)).tolist()
        assert [u[1] for u in used[:6]] == (ramp(np.arange(6)) * 0.5).tolist()
        # warmup over after 6 steps; epoch 2 runs at lr, then its metric (no improvement) reduces
        assert [u[0] for u in used[6:]] == [0.1] * 3
        assert sched.get_last_lr() == [pytest.approx(0.01), pytest.approx(0.005)]
        assert sched._hook is None  # the optimizer hook is gone once the warmup is over


def test_per_step_warmup_survives_pickle_and_checkpoints() -> None:
    spec = "plateau(lr=0.1, patience=0, warmup_steps=8, warmup_unit='step')"
    ramp = schedlab.linear(0.0, 0.1, steps=8)
    opt = make_opt((0.1,))
    sched = PlateauLR(opt, spec)
    for _ in range(3):
        opt.step()
    copy = pickle.loads(pickle.dumps(sched))
    for _ in range(2):
        copy.optimizer.step()
    assert copy.optimizer.param_groups[0]["lr"] == ramp(5)
    assert opt.param_groups[0]["lr"] == ramp(3)  # the original is independent
    opt2 = make_opt((0.1,))
    resumed = PlateauLR(opt2, spec)
    resumed.load_state_dict(sched.state_dict())
    opt2.step()
    assert opt2.param_groups[0]["lr"] == ramp(4)


def test_non_finite_metric_counts_as_bad_and_warns() -> None:
    """NaN is no improvement in PyTorch too: the same reductions, plus a warning saying so."""
    stream = [1.0, math.nan, 0.5, math.nan, math.nan]
    opt = make_opt((0.1, 0.02))
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    expected = rates(opt, ref, stream)
    opt = make_opt((0.1, 0.02))
    sched = PlateauLR(
        opt, [Plateau(0.1, patience=1, factor=0.5), Plateau(0.02, patience=1, factor=0.5)]
    )
    with pytest.warns(RuntimeWarning, match="counted as no improvement") as caught:
        assert rates(opt, sched, stream) == expected
    assert any("reduced from 0.1 to 0.05" in str(w.message) for w in caught)
    assert expected[-1] == [0.05, 0.01]


ATTRIBUTES = (
    "best", "num_bad_epochs", "cooldown_counter", "mode", "threshold", "threshold_mode",
    "patience", "factor", "cooldown", "min_lrs", "eps", "last_epoch", "mode_worse", "in_cooldown",
    "default_min_lr", "_last_lr",
)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    streams,
    st.integers(0, 3),
    st.integers(0, 2),
    st.sampled_from(["min", "max"]),
    st.sampled_from(["rel", "abs"]),
)
def test_attributes_equal_reduce_lr_on_plateau(stream, patience, cooldown, mode, threshold_mode):
    kw = {
        "patience": patience, "cooldown": cooldown, "mode": mode, "factor": 0.5,
        "threshold": 0.1, "threshold_mode": threshold_mode, "min_lr": 1e-3, "eps": 1e-9,
    }  # fmt: skip
    opt = make_opt((0.1,))
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ours = PlateauLR(make_opt((0.1,)), Plateau(0.1, **kw))
    for m in [None, *stream]:
        if m is not None:
            ref.step(m)
            ours.step(m)
        for name in ATTRIBUTES:
            assert getattr(ours, name) == getattr(ref, name), name
        assert ours.get_last_lr() == ref.get_last_lr()
        assert ours._is_better(1.0, 2.0) == ref._is_better(1.0, 2.0)


def test_loading_a_state_of_another_shape_changes_nothing() -> None:
    two = PlateauLR(make_opt((0.1, 0.05)), "plateau(lr=0.1, patience=0)")
    two.step(1.0)
    two.step(2.0)
    opt = make_opt((0.1,))
    one = PlateauLR(opt, "plateau(lr=0.1, patience=0)")
    one.step(3.0)
    before = (one.state_dict(), opt.param_groups[0]["lr"], one.plateaus[0].state_dict())
    bad_states = [
        two.state_dict(),  # 2 groups' scales
        {**one.state_dict(), "plateaus": [{**one.plateaus[0].state_dict(), "best": "x"}]},
        {**one.state_dict(), "last_epoch": -1},
        {**one.state_dict(), "plateaus": [Plateau(0.2).state_dict()]},
        PlateauLR(make_opt((0.1, 0.1)), [Plateau(0.1), Plateau(0.1)]).state_dict(),
    ]
    for state in bad_states:
        with pytest.raises(ConfigError):
            one.load_state_dict(state)
        assert (one.state_dict(), opt.param_groups[0]["lr"], one.plateaus[0].state_dict()) == before


def test_absolute_min_lr_matches_reduce_lr_on_plateau_per_group() -> None:
    """PyTorch's min_lr is the same floor for every group; the default here scales it."""
    stream = [1.0] * 12
    kw = {"patience": 0, "factor": 0.5, "min_lr": 0.004}
    opt = make_opt((0.1, 0.01))
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    expected = np.array(rates(opt, ref, stream))
    opt = make_opt((0.1, 0.01))
    absolute = np.array(
        rates(opt, PlateauLR(opt, Plateau(0.1, **kw), group_min_lr="absolute"), stream)
    )
    np.testing.assert_allclose(absolute, expected, rtol=1e-15)
    opt = make_opt((0.1, 0.01))
    scaled = np.array(rates(opt, PlateauLR(opt, Plateau(0.1, **kw)), stream))
    assert scaled[-1, 1] == pytest.approx(0.0004) and expected[-1, 1] == 0.004  # 10x lower floor
    np.testing.assert_array_equal(scaled[:, 0], expected[:, 0])


def test_repr_shows_the_plateau() -> None:
    sched = PlateauLR(make_opt((0.1,)), "plateau(lr=0.1, patience=3)")
    sched.step(1.0)
    assert repr(sched).startswith("PlateauLR(plateau(lr=0.1, mode='min', factor=0.1, patience=3")
    assert repr(sched).endswith(", last_epoch=1)")
