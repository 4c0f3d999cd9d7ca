"""Reference tests against Keras 3 ``keras.optimizers.schedules`` (torch backend), in float64.

Float64 needs care: Keras takes the schedule's dtype from ``initial_learning_rate`` converted with
``floatx``, so ``floatx`` is set to ``float64`` for this module (and restored).  Even then, Keras
3.15's torch backend rounds some intermediates to float32: ``ops.floor``/``ops.minimum`` return
float32 for float64 input, and ``ops.power(0-d float64, 1-d float32)`` promotes to float32.  So:

* steps are passed one at a time as Python floats (with a 1-d step tensor ``CosineDecayRestarts``'
  ``t_mul**i`` and ``m_mul**i`` and staircase powers are float32, off by ~1e-7);
* steps are integers below 2**24, which float32 holds exactly (a fractional step is clamped by
  ``ops.minimum`` or floored in float32 first, e.g. staircase ``floor(1.9999999999997726) == 2``);
* ``CosineDecayRestarts``' cycle index is ``floor`` of a float32-rounded log ratio, so steps within
  1e-5 (relative) of a restart are checked against the exact oracle instead.

Each call asserts that the value Keras returns really is float64.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sched_cases import EPS, PROFILE

import schedlab

keras = pytest.importorskip("keras")
pytest.importorskip("torch")
from keras.optimizers import schedules as ks  # noqa: E402

lrs = st.floats(1e-4, 10.0)
# Integer steps (see the module docstring for why not fractional ones).
step_lists = st.lists(st.integers(0, 2000), min_size=1, max_size=25)


@pytest.fixture(autouse=True, scope="module")
def _float64_keras():
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


def keras_rates(schedule, steps) -> np.ndarray:
    out = []
    for t in steps:
        value = schedule(float(t))
        assert str(value.dtype).endswith("float64"), value.dtype
        out.append(float(value))
    return np.array(out)


def assert_matches(ours, ref, atol=0.0) -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    bad = np.abs(ours - ref) > 1e-12 * np.abs(ref) + atol
    assert not bad.any(), (np.flatnonzero(bad)[:3], ours[bad][:3], ref[bad][:3])


@PROFILE
@given(
    lr=lrs,
    gamma=st.floats(0.05, 1.0),
    every=st.integers(1, 100),
    staircase=st.booleans(),
    steps=step_lists,
)
def test_exponential_decay(lr, gamma, every, staircase, steps):
    ref = keras_rates(ks.ExponentialDecay(lr, every, gamma, staircase=staircase), steps)
    assert_matches(schedlab.exponential(lr, gamma, every, staircase)(np.array(steps)), ref)


@PROFILE
@given(
    lr=lrs,
    decay_rate=st.floats(0.0, 10.0),
    every=st.integers(1, 100),
    staircase=st.booleans(),
    steps=step_lists,
)
def test_inverse_time_decay(lr, decay_rate, every, staircase, steps):
    ref = keras_rates(ks.InverseTimeDecay(lr, every, decay_rate, staircase=staircase), steps)
    assert_matches(schedlab.inverse_time(lr, decay_rate, every, staircase)(np.array(steps)), ref)


@PROFILE
@given(
    lr=lrs,
    decay_steps=st.integers(1, 500),
    end_frac=st.one_of(st.just(0.0), st.floats(0.0, 2.0)),
    power=st.floats(0.2, 4.0),
    cycle=st.booleans(),
    steps=step_lists,
)
def test_polynomial_decay(lr, decay_steps, end_frac, power, cycle, steps):
    end_lr = lr * end_frac
    ref = keras_rates(ks.PolynomialDecay(lr, decay_steps, end_lr, power=power, cycle=cycle), steps)
    ours = schedlab.polynomial(lr, decay_steps, power, end_lr, cycle)(np.array(steps))
    # Keras forms 1 - t/steps, exact only to eps absolute: near the end, power * eps of lr.
    assert_matches(ours, ref, atol=2 * power * EPS * max(lr, end_lr))


@PROFILE
@given(lr=lrs, decay_steps=st.integers(1, 1000), alpha=st.floats(0.0, 1.0), steps=step_lists)
def test_cosine_decay(lr, decay_steps, alpha, steps):
    ref = keras_rates(ks.CosineDecay(lr, decay_steps, alpha=alpha), steps)
    # Keras' textbook (1 + cos x) / 2 is precise only to a few eps * lr near the end.
    ours = schedlab.cosine(lr, decay_steps, min_lr=alpha * lr)(np.array(steps))
    assert_matches(ours, ref, atol=4 * EPS * lr)


def restart_starts(period: int, t_mult: float, until: float, most: int = 300) -> list[Fraction]:
    """Exact restart steps (rational arithmetic on the float64 ``t_mult``) up to ``until``, and the
    first one after it (a step can sit just below a restart that lies past ``until``)."""
    starts, start, length = [], Fraction(0), Fraction(period)
    while len(starts) < most:
        starts.append(start)
        if start > until:
            break
        start, length = start + length, length * Fraction(t_mult)
    return starts


@PROFILE
@given(
    lr=lrs,
    period=st.integers(1, 100),
    # Just above 1, Keras' log(1 - c * (1 - t_mul)) / log(t_mul) divides two rounded near-zeros and
    # picks the wrong cycle (t_mul = 1 + 2**-52, period 4, t = 3 lands in cycle 1): not a range
    # the reference computes, so real t_mult start at 1.01 (t_mult = 1 exactly takes Keras' own branch).
    t_mult=st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(1.01, 3.0)),
    m_mul=st.floats(0.1, 1.0),
    alpha=st.floats(0.0, 1.0),
    steps=step_lists,
)
def test_cosine_decay_restarts(lr, period, t_mult, m_mul, alpha, steps):
    # Keras finds the cycle with a float32 floor of log(...): at (or within float32 rounding of) a
    # restart it may land in the cycle before (completed fraction 1 instead of 0). Those steps are
    # checked against the exact oracle in test_cosine_restarts_at_exact_restarts instead.
    starts = restart_starts(period, t_mult, max(steps))
    keep = [t for t in steps if all(abs(t - s) > 1e-5 * max(1.0, s) for s in starts[1:])]
    s = ks.CosineDecayRestarts(lr, period, t_mul=t_mult, m_mul=m_mul, alpha=alpha)
    ref = keras_rates(s, keep)
    ours = schedlab.cosine_restarts(lr, period, t_mult, m_mul, min_lr=alpha * lr)(np.array(keep))
    # Keras' (completed - sum_r) / t_mul**i and its textbook cosine: absolute error ~ eps * t/period.
    atol = 8 * EPS * lr * (1 + np.array(keep, dtype=float) / period)
    assert_matches(ours, ref, atol=atol)


@pytest.mark.parametrize("t_mult", [1, 2, 3, 1.5])
@pytest.mark.parametrize("period", [1, 3, 7, 10])
def test_cosine_restarts_at_exact_restarts(period, t_mult):
    """At every restart the value is exactly the top of the new cycle (exact oracle, no log)."""
    s = schedlab.cosine_restarts(2.0, period, t_mult=t_mult, m_mul=0.9, min_lr=0.5)
    for i, exact in enumerate(restart_starts(period, t_mult, 1e7)):
        start = float(exact)
        if Fraction(start) != exact:  # not a float64 step: no step lands exactly on it
            continue
        assert math.isclose(s(start), 0.5 + 1.5 * 0.9**i, rel_tol=1e-12), (i, start)
        if i:  # just before a restart the previous cycle is at its floor
            before = s(np.nextafter(start, 0))
            assert 0.5 <= before <= 0.5 + 1e-9, (i, start, before)


@PROFILE
@given(
    boundaries=st.lists(st.integers(0, 1000), min_size=1, max_size=6, unique=True).map(sorted),
    data=st.data(),
)
def test_piecewise_constant_decay(boundaries, data):
    values = data.draw(
        st.lists(lrs, min_size=len(boundaries) + 1, max_size=len(boundaries) + 1), label="values"
    )
    probes = sorted({max(0, b + d) for b in boundaries for d in (-1, -0.5, 0, 0.5, 1)})
    steps = probes + data.draw(step_lists, label="steps")
    ref = keras_rates(ks.PiecewiseConstantDecay(boundaries, values), steps)
    assert_matches(schedlab.piecewise_constant(boundaries, values)(np.array(steps)), ref)
