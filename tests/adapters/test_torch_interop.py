"""from_torch: the schedlab schedule equal to an existing PyTorch scheduler's stepped values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tl

import schedlab
from schedlab.errors import ConfigError
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


# --- hardening --------------------------------------------------------------------------------


def test_non_integer_step_counts_are_refused_not_rounded() -> None:
    with pytest.raises(ConfigError, match=r"CyclicLR step_size_up must be a whole number.*3\.5"):
        schedlab.from_torch(tl.CyclicLR(make_opt(), 0.01, 0.1, step_size_up=3.5))
    with pytest.raises(ConfigError, match="CyclicLR step_size_down must be a whole number"):
        schedlab.from_torch(tl.CyclicLR(make_opt(), 0.01, 0.1, step_size_up=3, step_size_down=2.5))
    with pytest.raises(ConfigError, match="CosineAnnealingLR T_max must be a whole number"):
        schedlab.from_torch(tl.CosineAnnealingLR(make_opt(), T_max=10.5))
    with pytest.raises(ConfigError, match="StepLR step_size must be a whole number"):
        schedlab.from_torch(tl.StepLR(make_opt(), step_size=2.5))
    # whole numbers held as floats are fine, and give PyTorch's values
    opt = make_opt()
    sched = tl.CyclicLR(opt, 0.01, 0.1, step_size_up=3.0, step_size_down=7.0)
    converted = schedlab.from_torch(sched)
    assert converted.params["step_size_up"] == 3 and converted.params["step_size_down"] == 7
    np.testing.assert_allclose(converted(np.arange(40)), stepped(opt, sched, 40)[0], rtol=1e-12)


plateau_streams = st.lists(st.sampled_from([3.0, 2.0, 2.0, 1.0, 1.5, 0.5, 2.5]), max_size=25)


@settings(max_examples=40, deadline=None)
@given(plateau_streams, plateau_streams, st.integers(0, 3), st.integers(0, 2))
def test_reduce_lr_on_plateau_converts_with_its_state(before, after, patience, cooldown) -> None:
    """The converted plateau continues exactly where the PyTorch object is."""
    kw = {"patience": patience, "cooldown": cooldown, "factor": 0.5, "min_lr": 1e-3}
    opt = make_opt((0.1, 0.02))
    ref = tl.ReduceLROnPlateau(opt, **kw)
    for m in before:
        ref.step(m)
    plateaus = [schedlab.from_torch(ref, group=g) for g in (0, 1)]
    assert [p.lr for p in plateaus] == ref.get_last_lr()
    assert plateaus[0].best == ref.best and plateaus[0].bad_updates == ref.num_bad_epochs
    assert plateaus[0].cooldown_left == ref.cooldown_counter
    assert plateaus[0].updates == ref.last_epoch
    for m in after:
        ref.step(m)
        assert [p.update(m) for p in plateaus] == ref.get_last_lr()


@pytest.mark.parametrize(
    ("name", "warmup", "total", "kwargs"),
    [
        ("linear", 5, 60, {}),
        ("linear", 0, 17, {}),
        ("cosine", 7, 61, {}),
        ("cosine_with_restarts", 4, 4 + 3 * 15, {"num_cycles": 3}),
        ("polynomial", 5, 50, {"power": 2.0, "lr_end": 1e-4}),
        ("constant", 5, 30, {}),
        ("constant_with_warmup", 6, 30, {}),
        ("inverse_sqrt", 8, 80, {}),
        ("inverse_sqrt", 4, 40, {"timescale": 10}),
        ("warmup_stable_decay", 5, 60, {"num_decay_steps": 20}),
        (
            "warmup_stable_decay",
            3,
            40,
            {"num_decay_steps": 9, "decay_type": "1-sqrt", "min_lr_ratio": 0.1},
        ),
        ("cosine_with_min_lr", 5, 45, {"min_lr_rate": 0.05}),
    ],
)
def test_hugging_face_get_scheduler_lambdas(name, warmup, total, kwargs) -> None:
    """The LambdaLR of transformers.get_scheduler, recognised and equal over the whole run."""
    transformers = pytest.importorskip("transformers")
    lrs = (0.1, 0.03)
    opt = make_opt(lrs)
    sched = transformers.get_scheduler(name, opt, warmup, total, scheduler_specific_kwargs=kwargs)
    converted = [schedlab.from_torch(sched, group=g) for g in range(len(lrs))]
    expected = stepped(opt, sched, total + 1)
    for g, schedule in enumerate(converted):
        # HF's 0.5 * (1 + cos) cancels near the end of a cosine: an absolute floor there
        np.testing.assert_allclose(
            schedule(np.arange(total + 1)), expected[g], rtol=1e-12, atol=1e-14 * lrs[g]
        )


def test_hugging_face_lambdas_without_an_equivalent() -> None:
    transformers = pytest.importorskip("transformers")
    sched = transformers.get_cosine_schedule_with_warmup(make_opt(), 5, 50, num_cycles=1.5)
    with pytest.raises(ConfigError, match=r"num_cycles must be 0\.5"):
        schedlab.from_torch(sched)
    sched = transformers.get_cosine_with_hard_restarts_schedule_with_warmup(make_opt(), 5, 50, 4)
    with pytest.raises(ConfigError, match="divides num_training_steps - num_warmup_steps \\(45\\)"):
        schedlab.from_torch(sched)
    sched = transformers.get_wsd_schedule(make_opt(), 5, 10, 40, warmup_type="cosine")
    with pytest.raises(ConfigError, match="warmup_type must be 'linear'"):
        schedlab.from_torch(sched)


def test_hugging_face_closures_of_older_versions() -> None:
    """Older transformers returned closures; their captured arguments are read the same way."""
    namespace: dict = {"__name__": "transformers.optimization"}
    exec(
        "def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):\n"
        "    def lr_lambda(current_step):\n"
        "        if current_step < num_warmup_steps:\n"
        "            return current_step / max(1, num_warmup_steps)\n"
        "        return max(0.0, (num_training_steps - current_step)"
        " / max(1, num_training_steps - num_warmup_steps))\n"
        "    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)\n",
        {**namespace, "torch": torch},
        namespace,
    )
    opt = make_opt()
    sched = namespace["get_linear_schedule_with_warmup"](opt, 3, 20)
    converted = schedlab.from_torch(sched)
    assert converted == schedlab.warmup(schedlab.linear(0.1, 0.0, 17), steps=3)
    np.testing.assert_allclose(converted(np.arange(21)), stepped(opt, sched, 21)[0], rtol=1e-12)
