"""PlateauLR: schedlab.Plateau driving a PyTorch optimizer, equal to ReduceLROnPlateau bit for bit."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
from schedlab.adapters.torch import PlateauLR
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
    with pytest.raises(ValueError, match="tick\\(\\) advances a warmup"):
        PlateauLR(make_opt((0.1,)), Plateau(0.1)).step()
