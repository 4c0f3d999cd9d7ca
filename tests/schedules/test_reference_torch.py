"""Reference tests against ``torch.optim.lr_scheduler``, stepping a real SGD optimizer on one
parameter and reading the rate it would use at each step (docs/schedules.md: "Ref" column).

Tolerances: closed-form schedulers (CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) are held to
``rtol=1e-12``; the recursive ("chainable") ones multiply the previous rate each step, so their
rounding error grows by about one eps per step: ``rtol = 1e-12 + n * 4e-16`` at step ``n``.
Where PyTorch uses the textbook ``(1 + cos x) / 2``, which only keeps *absolute* precision near
the end of a cosine, an absolute slack of a few ``eps * lr`` is added (and said so at the test).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sched_cases import EPS, PROFILE

import schedlab

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

lrs = st.floats(1e-4, 10.0)
horizons = st.integers(1, 300)
DRIFT = 4 * EPS  # per recursive step


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def torch_rates(lr: float, make: Callable, n: int) -> np.ndarray:
    """The rate a real ``SGD`` uses at steps ``0 .. n-1`` under the scheduler ``make(optimizer)``."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    sched = make(opt)
    rates = []
    for _ in range(n):
        rates.append(opt.param_groups[0]["lr"])
        param.grad = torch.ones_like(param)
        opt.step()
        sched.step()
    return np.array(rates, dtype=np.float64)


def assert_matches(ours: np.ndarray, ref: np.ndarray, *, drift: bool = False, atol=0.0) -> None:
    steps = np.arange(ref.size)
    rtol = 1e-12 + (DRIFT * steps if drift else 0.0)
    err = np.abs(ours - ref)
    bad = err > rtol * np.abs(ref) + atol + 1e-300  # subnormals carry absolute precision only
    assert not bad.any(), (
        f"first mismatch at step {steps[bad][0]}: ours {ours[bad][0]!r}, torch {ref[bad][0]!r}"
    )


@PROFILE
@given(lr=lrs, step_size=st.integers(1, 50), gamma=st.floats(0.05, 1.0), n=horizons)
def test_step_lr(lr, step_size, gamma, n):
    ref = torch_rates(lr, lambda o: lr_scheduler.StepLR(o, step_size, gamma), n)
    assert_matches(schedlab.step(lr, step_size, gamma)(np.arange(n)), ref, drift=True)


@PROFILE
@given(
    lr=lrs,
    milestones=st.lists(st.integers(0, 300), min_size=1, max_size=6, unique=True).map(sorted),
    gamma=st.floats(0.05, 1.0),
    n=horizons,
)
def test_multistep_lr(lr, milestones, gamma, n):
    # Milestone 0 included: PyTorch 2.13 applies it when the scheduler is built (lr * gamma at
    # step 0), as the contract counts milestones <= t.
    ref = torch_rates(lr, lambda o: lr_scheduler.MultiStepLR(o, milestones, gamma), n)
    assert_matches(schedlab.multistep(lr, milestones, gamma)(np.arange(n)), ref, drift=True)


def test_multistep_lr_applies_milestone_zero_at_step_zero():
    ref = torch_rates(1.0, lambda o: lr_scheduler.MultiStepLR(o, [0, 2], 0.5), 4)
    assert ref.tolist() == [0.5, 0.5, 0.25, 0.25]
    assert schedlab.multistep(1.0, [0, 2], 0.5)(np.arange(4)).tolist() == ref.tolist()


@PROFILE
@given(lr=lrs, gamma=st.floats(0.5, 1.0), n=horizons)
def test_exponential_lr(lr, gamma, n):
    ref = torch_rates(lr, lambda o: lr_scheduler.ExponentialLR(o, gamma), n)
    assert_matches(schedlab.exponential(lr, gamma)(np.arange(n)), ref, drift=True)


@PROFILE
@given(
    lr=lrs,
    start=st.floats(1e-3, 1.0),
    end=st.floats(0.0, 1.0),
    steps=st.integers(1, 200),
    extra=st.integers(0, 50),
)
def test_linear_lr(lr, start, end, steps, extra):
    n = steps + extra + 1
    ref = torch_rates(lr, lambda o: lr_scheduler.LinearLR(o, start, end, steps), n)
    # PyTorch multiplies by a ratio whose rounding is relative to the *starting* rate, so near an
    # end factor of 0 its error is n eps of lr in absolute terms (it ends at ~1e-17, not 0).
    ours = schedlab.linear(lr * start, lr * end, steps)(np.arange(n))
    assert_matches(ours, ref, drift=True, atol=DRIFT * np.arange(n) * lr)


@PROFILE
@given(lr=lrs, steps=st.integers(1, 200), power=st.floats(0.2, 4.0), extra=st.integers(0, 50))
def test_polynomial_lr(lr, steps, power, extra):
    n = steps + extra + 1
    ref = torch_rates(lr, lambda o: lr_scheduler.PolynomialLR(o, steps, power), n)
    ours = schedlab.polynomial(lr, steps, power=power)(np.arange(n))
    # Recursive ratio of (1 - t/T) terms: absolute error ~ n eps * lr as the rate approaches 0.
    assert_matches(ours, ref, drift=True, atol=power * DRIFT * np.arange(n) * lr)


@PROFILE
@given(
    lr=lrs,
    period=st.integers(1, 60),
    t_mult=st.integers(1, 3),
    min_frac=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
    n=st.integers(1, 400),
)
def test_cosine_annealing_warm_restarts(lr, period, t_mult, min_frac, n):
    min_lr = lr * min_frac
    ref = torch_rates(
        lr, lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, period, t_mult, min_lr), n
    )
    ours = schedlab.cosine_restarts(lr, period, t_mult=t_mult, min_lr=min_lr)(np.arange(n))
    # PyTorch's textbook (1 + cos x) / 2 is only absolutely precise near the end of a cycle.
    assert_matches(ours, ref, atol=4 * EPS * lr)


@PROFILE
@given(
    min_lr=st.one_of(st.just(0.0), st.floats(1e-5, 1.0)),
    height=st.floats(1e-4, 10.0),
    up=st.integers(1, 40),
    down=st.one_of(st.none(), st.integers(1, 40)),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.95, 1.0),
    n=horizons,
)
def test_cyclic_lr(min_lr, height, up, down, mode, gamma, n):
    max_lr = min_lr + height

    def make(o):
        return lr_scheduler.CyclicLR(
            o, min_lr, max_lr, up, down, mode=mode, gamma=gamma, cycle_momentum=False
        )

    ref = torch_rates(max_lr, make, n)
    ours = schedlab.cyclic(min_lr, max_lr, up, down, mode=mode, gamma=gamma)(np.arange(n))
    # PyTorch forms x = 1 + t/total - cycle: its rounding is eps * t/total in x, so the absolute
    # error grows with the cycle count (a closed form, but one that drifts like a recursion).
    total = up + (down or up)
    atol = 4 * EPS * height * (1 + np.arange(n) / total) * total / min(up, down or up)
    assert_matches(ours, ref, atol=atol)


@PROFILE
@given(
    max_lr=lrs,
    steps=st.integers(2, 400),
    pct_start=st.floats(0.0, 1.0),
    anneal=st.sampled_from(["cos", "linear"]),
    div_factor=st.floats(1.0, 100.0),
    final_div_factor=st.floats(1.0, 1e5),
    three_phase=st.booleans(),
)
def test_one_cycle_lr(max_lr, steps, pct_start, anneal, div_factor, final_div_factor, three_phase):
    ends = [pct_start * steps - 1, steps - 1]
    if three_phase:
        ends.insert(1, 2 * pct_start * steps - 2)
    # PyTorch divides by each phase's length (0/0 for an empty phase) and, when the phases overlap
    # the end, reports the middle phase at steps-1 where the contract says the floor.
    assume(all(b - a > 1e-6 for a, b in zip([0.0, *ends], ends, strict=False) if b >= 0))

    def make(o):
        return lr_scheduler.OneCycleLR(
            o,
            max_lr,
            total_steps=steps,
            pct_start=pct_start,
            anneal_strategy=anneal,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
            cycle_momentum=False,
        )

    ref = torch_rates(max_lr, make, steps)
    s = schedlab.one_cycle(
        max_lr, steps, pct_start, anneal, div_factor, final_div_factor, three_phase
    )
    # cos: PyTorch's end + (start - end) / 2 * (cos(pi pct) + 1) is absolutely precise only.
    assert_matches(s(np.arange(steps)), ref, atol=4 * EPS * max_lr)
    assert s(steps - 1) == max_lr / div_factor / final_div_factor
    assert s(steps + 10**6) == s(steps - 1)


@PROFILE
@given(
    lr=lrs,
    warmup_steps=st.integers(1, 50),
    start_frac=st.floats(1e-3, 1.0),
    steps=st.integers(1, 200),
    min_frac=st.floats(0.0, 1.0),
)
def test_sequential_warmup_cosine(lr, warmup_steps, start_frac, steps, min_frac):
    min_lr = lr * min_frac

    def make(o):
        ramp = lr_scheduler.LinearLR(o, start_frac, 1.0, warmup_steps)
        decay = lr_scheduler.CosineAnnealingLR(o, steps, min_lr)
        return lr_scheduler.SequentialLR(o, [ramp, decay], milestones=[warmup_steps])

    n = warmup_steps + steps + 1  # CosineAnnealingLR oscillates after T_max; the contract holds
    ref = torch_rates(lr, make, n)
    s = schedlab.warmup(schedlab.cosine(lr, steps, min_lr), warmup_steps, start_lr=lr * start_frac)
    # Both PyTorch pieces are recursive, and its cosine recursion is absolutely precise only.
    assert_matches(s(np.arange(n)), ref, drift=True, atol=DRIFT * np.arange(n) * lr)
