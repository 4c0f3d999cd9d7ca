"""Long-horizon precision (docs/schedules.md, "Precision"): for steps up to 1e9 the values are
within 1e-12 relative of exact arithmetic wherever the value exceeds 1e-6 * lr.  The oracle is
mpmath at 40 digits on the very same float64 parameters and steps (``mpf(x)`` is exact for a
float)."""

from __future__ import annotations

import mpmath as mp
from hypothesis import given
from hypothesis import strategies as st
from sched_cases import EPS, PROFILE

import schedlab

mp.mp.dps = 40
M = mp.mpf  # exact for a float: every oracle computes in 40 digits from the float64 inputs
HORIZON = 10**9
lrs = st.floats(1e-4, 10.0)
horizons = st.integers(1, HORIZON)
steps = st.one_of(st.integers(0, HORIZON), st.floats(0.0, float(HORIZON)))
fractions = st.floats(0.0, 1.0)


def half_cos(done, total):
    return (1 + mp.cos(mp.pi * mp.mpf(done) / total)) / 2


def check(s, oracle, t, lr, rtol=1e-12) -> None:
    exact = oracle(mp.mpf(t))
    if exact <= 1e-6 * lr:
        return
    got = s(t)
    assert abs(mp.mpf(got) - exact) <= rtol * exact, (s, t, got, exact)


@PROFILE
@given(lr=lrs, total=horizons, min_frac=fractions, frac=fractions, t=steps)
def test_cosine(lr, total, min_frac, frac, t):
    min_lr = lr * min_frac * 1e-3
    s = schedlab.cosine(lr, total, min_lr)
    for step in (t, frac * total, max(0, total - 1)):
        check(s, lambda x: M(min_lr) + (M(lr) - min_lr) * half_cos(min(x, total), total), step, lr)


@PROFILE
@given(
    lr=lrs, gamma=st.floats(0.5, 1.0), every=st.integers(1, 10**6), t=steps, staircase=st.booleans()
)
def test_exponential(lr, gamma, every, t, staircase):
    s = schedlab.exponential(lr, gamma, every, staircase)

    def oracle(x):
        k = mp.floor(x / every) if staircase else x / every
        return lr * mp.mpf(gamma) ** k

    check(s, oracle, t, lr)


@PROFILE
@given(lr=lrs, total=horizons, power=st.floats(0.2, 5.0), end_frac=fractions, frac=fractions)
def test_polynomial(lr, total, power, end_frac, frac):
    end = lr * end_frac * 1e-3
    s = schedlab.polynomial(lr, total, power, end)
    for step in (frac * total, max(0, total - 1), total // 2):
        check(s, lambda x: (M(lr) - end) * (1 - min(x, total) / M(total)) ** power + end, step, lr)


@PROFILE
@given(start=lrs, end_frac=fractions, total=horizons, frac=fractions)
def test_linear(start, end_frac, total, frac):
    end = start * end_frac
    for a, b in ((start, end), (end, start)):
        s = schedlab.linear(a, b, total)
        for step in (frac * total, max(0, total - 1), 1):
            check(
                s, lambda x, a=a, b=b: M(a) + (M(b) - a) * min(x, total) / M(total), step, max(a, b)
            )


def restart_oracle(lr, period, t_mult, m_mul, min_lr):
    m = mp.mpf(t_mult)

    def oracle(x):
        i, start, length = 0, mp.mpf(0), mp.mpf(period)
        while start + length <= x:
            start, length, i = start + length, length * m, i + 1
        return M(min_lr) + (M(lr) - min_lr) * M(m_mul) ** i * half_cos(x - start, length)

    return oracle


@PROFILE
@given(
    lr=lrs,
    period=st.integers(1, 10**8),
    t_mult=st.integers(2, 4),
    m_mul=st.floats(0.5, 1.0),
    t=steps,
)
def test_cosine_restarts_integer_t_mult(lr, period, t_mult, m_mul, t):
    s = schedlab.cosine_restarts(lr, period, t_mult, m_mul, min_lr=lr * 1e-4)
    check(s, restart_oracle(lr, period, t_mult, m_mul, lr * 1e-4), t, lr)


@PROFILE
@given(lr=lrs, period=st.integers(10**4, 10**8), m_mul=st.floats(0.5, 1.0), t=steps)
def test_cosine_restarts_period_only(lr, period, m_mul, t):
    s = schedlab.cosine_restarts(lr, period, 1, m_mul)
    check(s, restart_oracle(lr, period, 1, m_mul, 0.0), t, lr)


@PROFILE
@given(lr=lrs, period=st.integers(1, 10**6), t_mult=st.floats(1.5, 3.0), t=steps)
def test_cosine_restarts_real_t_mult(lr, period, t_mult, t):
    # Known limit: with a non-integer t_mult the restart step start_i is not an integer, and
    # t - start_i carries float64's absolute error ~2 eps * t. The relative error is then
    # ~2 eps * t / (steps left in the cycle) -- tested with exactly that allowance.
    s = schedlab.cosine_restarts(lr, period, t_mult)
    oracle = restart_oracle(lr, period, t_mult, 1.0, 0.0)
    exact = oracle(mp.mpf(t))
    if exact > 1e-6 * lr:
        left = mp.asin(mp.sqrt(exact / lr)) * 2 / mp.pi  # fraction of the cycle still left
        length = mp.mpf(period) * mp.mpf(t_mult) ** mp.floor(
            mp.log(1 + t / mp.mpf(period) * (t_mult - 1)) / mp.log(t_mult)
        )
        rtol = 1e-12 + 8 * EPS * t / (left * length)
        assert abs(mp.mpf(s(t)) - exact) <= rtol * exact


@PROFILE
@given(lr=lrs, total=horizons, warm=st.integers(1, 10**8), start_frac=fractions, t=steps)
def test_warmup_cosine(lr, total, warm, start_frac, t):
    start = lr * start_frac
    s = schedlab.warmup(schedlab.cosine(lr, total), warm, start_lr=start)

    def oracle(x):
        if x < warm:
            return M(start) + (M(lr) - start) * x / warm
        return lr * half_cos(min(x - warm, total), total)

    for step in (t, warm + total - 1, warm - 1):
        check(s, oracle, step, lr)


def hf_oracle(s):
    """Hugging Face's formulas in 40 digits, held from num_training_steps on (the contract)."""
    q = s.params
    lr, warm, total = M(q["lr"]), q["num_warmup_steps"], q["num_training_steps"]
    span = total - warm
    cycles = M(q.get("num_cycles", 1 if q["name"] == "cosine_with_restarts" else 0.5))

    def oracle(x):
        if x < warm:
            return lr * x / warm
        n = min(x, total) - warm
        if q["name"] == "linear":
            return lr * (span - n) / span
        if q["name"] == "polynomial":
            end = M(q.get("lr_end", 1e-7))
            return (lr - end) * (1 - n / M(span)) ** M(q.get("power", 1.0)) + end
        if q["name"] == "cosine_with_restarts":
            if n >= span:
                return M(0)
            phase = cycles * n / span
            return lr * (1 + mp.cos(mp.pi * (phase - mp.floor(phase)))) / 2
        return lr * (1 + mp.cos(2 * mp.pi * cycles * n / span)) / 2

    return oracle


@PROFILE
@given(
    lr=lrs,
    total=st.integers(2, HORIZON),
    warm_frac=fractions,
    name=st.sampled_from(["linear", "polynomial", "cosine", "cosine_with_restarts"]),
    frac=fractions,
    t=steps,
)
def test_hf(lr, total, warm_frac, name, frac, t):
    warm = min(int(warm_frac * total), total - 1)
    extra = {"polynomial": {"lr_end": 0.0, "power": 2.0}, "cosine_with_restarts": {"num_cycles": 3}}
    s = schedlab.hf(name, lr, warm, total, **extra.get(name, {}))
    oracle = hf_oracle(s)
    for step in (t, warm + frac * (total - warm), total - 1, max(0, warm - 1)):
        check(s, oracle, step, lr)


@PROFILE
@given(lr=lrs, total=st.integers(2, HORIZON), cycles=st.floats(0.1, 3.0), frac=fractions)
def test_hf_cosine_cycles(lr, total, cycles, frac):
    # Known limit (docs): with num_cycles != 0.5 the phase num_cycles * n / D is rounded before
    # the cosine, which keeps 1e-12 wherever the value exceeds about 1e-6 * lr * num_cycles**2.
    s = schedlab.hf("cosine", lr, 0, total, num_cycles=cycles)
    oracle = hf_oracle(s)
    for step in (frac * total, total - 1, total // 2):
        exact = oracle(mp.mpf(step))
        if exact > 1e-6 * lr * max(1.0, cycles**2):
            assert abs(mp.mpf(s(step)) - exact) <= 1e-12 * exact, (s, step)
