"""The fast evaluation paths (docs/performance.md): blocked evaluation of long arrays, the float32
path of ``Schedule.evaluate``, the one-pass one-cycle and the cycle search of cosine_restarts.

Every fast path must give the values of the plain computation: bit for bit where the arithmetic
is the same (blocks), to float32 precision for the float32 path, and to an independent oracle
written from the PyTorch formulas for one-cycle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
from schedlab.schedules.base import _BLOCK

#: One schedule of every kind, with parameters that keep float32 steps and ratios exact enough.
ONE_OF_EACH = {
    "constant": "constant(0.1)",
    "step": "step(0.1, step_size=700, gamma=0.5)",
    "multistep": "multistep(0.1, milestones=[3000, 9000], gamma=0.3)",
    "exponential": "exponential(0.1, gamma=0.5, every=5000)",
    "inverse_time": "inverse_time(0.1, decay_rate=0.5, every=1000)",
    "polynomial": "polynomial(0.1, steps=40000, power=2.0, end_lr=0.001, cycle=true)",
    "linear": "linear(0.0, 0.1, steps=30000)",
    "cosine": "cosine(0.1, steps=50000, min_lr=0.001)",
    "cosine_restarts": "cosine_restarts(0.1, period=1000, t_mult=2, m_mul=0.8, min_lr=0.001)",
    "cyclic": 'cyclic(0.001, 0.1, step_size_up=2000, mode="triangular2")',
    "one_cycle": "one_cycle(0.1, steps=60000)",
    "warmup": "warmup(cosine(0.1, steps=50000), steps=1000)",
    "wsd": 'wsd(0.1, steps=60000, decay_steps=20000, warmup_steps=1000, decay="cosine")',
    "inverse_sqrt": "inverse_sqrt(0.1, warmup_steps=1000)",
    "piecewise_constant": "piecewise_constant([1000, 5000], [0.1, 0.01, 0.001])",
    "piecewise_linear": "piecewise_linear([[0, 0.0], [1000, 0.1], [60000, 0.001]])",
    "sequence": "sequence([constant(0.01), cosine(0.1, steps=50000)], boundaries=[2000])",
    "scale": "scale(cosine(0.1, steps=50000), by=linear(1.0, 0.5, steps=60000))",
    "hf": 'hf("cosine_with_restarts", 0.1, num_warmup_steps=1000, num_training_steps=61000, '
    "num_cycles=3)",
    "schedule_free": "schedule_free(warmup(constant(0.1), steps=1000))",
}

LONG = 3 * _BLOCK + 1234  # more than one block, and not a multiple of it


def test_every_kind_is_covered() -> None:
    assert sorted(ONE_OF_EACH) == sorted(schedlab.kinds())


def _steps(n: int, seed: int = 0) -> np.ndarray:
    """Integer and fractional steps in [0, 70000), shuffled so that blocks are not sorted."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate([np.arange(n // 2), rng.uniform(0, 70_000, n - n // 2)])
    rng.shuffle(steps)
    return steps


@pytest.mark.parametrize("kind", sorted(ONE_OF_EACH))
def test_blocks_give_the_values_of_small_calls(kind: str) -> None:
    s = schedlab.from_spec(ONE_OF_EACH[kind])
    t = _steps(LONG)
    pieces = np.concatenate([s(part) for part in np.array_split(t, 97)])  # each below a block
    out = s(t)
    assert out.dtype == np.float64 and out.shape == t.shape
    np.testing.assert_array_equal(out, pieces)
    # shapes, views and dtypes go through the same blocks
    square = t[: (LONG // 2) * 2].reshape(2, -1)
    np.testing.assert_array_equal(s(square), pieces[: square.size].reshape(2, -1))
    np.testing.assert_array_equal(s(t[::3]), pieces[::3])
    whole = np.floor(t).astype(np.int64)
    np.testing.assert_array_equal(s(whole), s(whole.astype(np.float64)))


@pytest.mark.parametrize("kind", sorted(ONE_OF_EACH))
def test_float32_evaluate_is_a_float32_curve(kind: str) -> None:
    s = schedlab.from_spec(ONE_OF_EACH[kind])
    t32 = np.arange(70_000, dtype=np.float32)  # integers: exact in float32
    got = s.evaluate(t32)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == t32.shape
    want = s(t32)
    assert np.max(np.abs(got - want)) <= 2e-6 * np.max(want), kind
    short = s.evaluate(t32[:1000])  # a single block
    assert short.dtype == np.float32
    np.testing.assert_array_equal(short, got[:1000])


def test_float64_evaluate_matches_call() -> None:
    s = schedlab.from_spec(ONE_OF_EACH["warmup"])
    t = _steps(LONG, seed=1)
    np.testing.assert_array_equal(s.evaluate(t), s(t))


@pytest.mark.parametrize(
    ("steps", "bad"),
    [
        (np.concatenate([np.arange(LONG), [-5]]), "-5"),
        (np.concatenate([np.arange(LONG, dtype=np.float32), [np.nan]]), "nan"),
        (np.concatenate([[np.inf], np.arange(LONG, dtype=np.float64)]), "inf"),
    ],
)
def test_long_invalid_arrays_are_rejected(steps: np.ndarray, bad: str) -> None:
    with pytest.raises(ValueError, match=rf"step must be a finite number >= 0, got .*{bad}"):
        schedlab.cosine(0.1, steps=10)(steps)


@pytest.mark.hardware
@pytest.mark.skipif(
    np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="no wider long double"
)
def test_long_double_beyond_float64_is_rejected() -> None:
    steps = np.array([1.0, np.finfo(np.float64).max], dtype=np.longdouble) * 10
    with pytest.raises(ValueError, match=r"step must be a finite number >= 0, got .*inf"):
        schedlab.cosine(0.1, steps=10)(steps)


@settings(max_examples=60, deadline=None)
@given(
    period=st.integers(1, 5000),
    t_mult=st.one_of(st.just(1.0), st.just(2.0), st.floats(1.0, 3.0)),
    m_mul=st.floats(0.1, 1.0),
    t=st.one_of(st.integers(0, 10**12), st.floats(0, 1e12)),
)
def test_cosine_restarts_scalar_equals_array(period, t_mult, m_mul, t) -> None:
    s = schedlab.cosine_restarts(0.1, period=period, t_mult=t_mult, m_mul=m_mul, min_lr=0.001)
    value = s(t)
    assert s(np.array([t, t], dtype=np.float64))[0] == value
    assert 0.001 <= value <= 0.1 * (1 + 1e-15)


def _one_cycle_oracle(t, max_lr, steps, pct_start, anneal, div, final_div, three_phase) -> float:
    """PyTorch ``OneCycleLR.get_lr`` in plain Python; a phase of no length gives its end rate."""
    initial = max_lr / div
    floor = initial / final_div
    if t >= steps - 1:
        return floor
    if three_phase:
        phases = [
            (pct_start * steps - 1, initial, max_lr),
            (2 * pct_start * steps - 2, max_lr, initial),
            (steps - 1, initial, floor),
        ]
    else:
        phases = [(pct_start * steps - 1, initial, max_lr), (steps - 1, max_lr, floor)]
    begin = 0.0
    for i, (end, start_lr, end_lr) in enumerate(phases):
        if t <= end or i == len(phases) - 1:
            if end == begin:
                return end_lr
            pct = (t - begin) / (end - begin)
            if anneal == "cos":
                return end_lr + (start_lr - end_lr) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (end_lr - start_lr) * pct + start_lr
        begin = end
    raise AssertionError("unreachable")


@settings(max_examples=80, deadline=None)
@given(
    steps=st.integers(2, 400),
    pct_start=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0)),
    anneal=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
    data=st.data(),
)
def test_one_cycle_matches_pytorch_formulas(steps, pct_start, anneal, three_phase, data) -> None:
    if three_phase and pct_start > 0.5:
        pct_start /= 2  # PyTorch's three phases need 2 * pct_start * steps <= steps
    pct_start = data.draw(st.sampled_from([pct_start, 1 / steps, 2 / steps]))
    args = (1.0, steps, pct_start, anneal, 25.0, 1e4, three_phase)
    s = schedlab.one_cycle(*args)
    t = np.concatenate([np.arange(steps + 2.0), np.linspace(0, steps + 1, 41)])
    got = s(t)
    want = np.array([_one_cycle_oracle(x, *args) for x in t])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
