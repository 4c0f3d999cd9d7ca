"""from_torch: the schedlab schedule equal to an existing PyTorch scheduler's stepped values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

import schedlab
from schedlab.schedules.plateau import Plateau


def make_opt(lrs=(0.1,), **kw) -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, momentum=0.9, **kw)


def stepped(opt, sched, n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(out).T


CASES = {
    "StepLR": (lambda o: tl.StepLR(o, step_size=4, gamma=0.5), 30),
    "MultiStepLR": (lambda o: tl.MultiStepLR(o, milestones=[3, 7, 12], gamma=0.2), 30),
    "ConstantLR": (lambda o: tl.ConstantLR(o, factor=0.25, total_iters=5), 20),
    "LinearLR": (lambda o: tl.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=9), 20),
    "ExponentialLR": (lambda o: tl.ExponentialLR(o, gamma=0.93), 40),
    "PolynomialLR": (lambda o: tl.PolynomialLR(o, total_iters=15, power=2.0), 25),
    "CosineAnnealingLR": (lambda o: tl.CosineAnnealingLR(o, T_max=20, eta_min=0.001), 21),
    "CosineAnnealingWarmRestarts": (
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.001),
        40,
    ),
    "CyclicLR": (
        lambda o: tl.CyclicLR(
            o, 0.01, 0.1, step_size_up=3, step_size_down=5, mode="exp_range", gamma=0.98
        ),
        40,
    ),
    "OneCycleLR": (lambda o: tl.OneCycleLR(o, max_lr=0.1, total_steps=30, pct_start=0.25), 30),
    "OneCycleLR-3phase": (
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=31, anneal_strategy="linear", three_phase=True),
        31,
    ),
    "SequentialLR": (
        lambda o: tl.SequentialLR(
            o,
            [tl.LinearLR(o, start_factor=0.01, total_iters=5), tl.CosineAnnealingLR(o, T_max=20)],
            milestones=[5],
        ),
        25,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("lrs", [(0.1,), (0.1, 0.04)])
def test_values_equal_pytorch_stepped_values(name: str, lrs) -> None:
    build, n = CASES[name]
    opt = make_opt(lrs)
    scheduler = build(opt)
    converted = [schedlab.from_torch(scheduler, group=g) for g in range(len(lrs))]
    expected = stepped(opt, scheduler, n)
    t = np.arange(n)
    for g, schedule in enumerate(converted):
        # PyTorch's recursive schedulers drift by about one rounding per step
        np.testing.assert_allclose(schedule(t), expected[g], rtol=1e-12 + n * 4e-16, atol=1e-17)


def test_lightning_config_and_plateau() -> None:
    opt = make_opt()
    sched = tl.StepLR(opt, step_size=3)
    assert schedlab.from_torch({"scheduler": sched, "interval": "epoch"}) == schedlab.step(0.1, 3)
    ref = tl.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2, min_lr=1e-4)
    assert schedlab.from_torch(ref) == Plateau(0.1, mode="max", factor=0.5, patience=2, min_lr=1e-4)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda o: tl.LambdaLR(o, lambda t: 0.9**t),
            "from_torch: LambdaLR has no schedlab equivalent",
        ),
        (
            lambda o: tl.MultiplicativeLR(o, lambda t: 0.9),
            "MultiplicativeLR has no schedlab equivalent",
        ),
        (lambda o: tl.MultiStepLR(o, milestones=[2, 2]), "repeated milestones [2, 2]"),
        (lambda o: tl.CyclicLR(o, 0.01, 0.1, scale_fn=lambda x: 1.0), "custom scale_fn"),
    ],
)
def test_unsupported_schedulers(build, message: str) -> None:
    with pytest.raises(ValueError) as err:
        schedlab.from_torch(build(make_opt()))
    assert message in str(err.value)
    if "LambdaLR" in message:
        assert "supported: StepLR" in str(err.value)


def test_bad_arguments() -> None:
    with pytest.raises(
        ValueError, match=r"scheduler must be a torch\.optim\.lr_scheduler\.LRScheduler"
    ):
        schedlab.from_torch("StepLR")
    with pytest.raises(ValueError, match=r"group must be an integer in \[0, 1\), got 1"):
        schedlab.from_torch(tl.StepLR(make_opt(), 3), group=1)


def test_importing_schedlab_does_not_import_torch() -> None:
    code = "import sys, schedlab; assert 'torch' not in sys.modules; schedlab.from_torch; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
