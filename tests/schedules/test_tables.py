"""Hand-derived tables (optax/PyTorch style): each kind at 0, boundary-1, boundary, boundary+1 and
past the end, values worked out by hand from the contract's table, plus the doctests."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest

import schedlab as sl

R2 = math.sqrt(2) / 2
TABLES = [
    (sl.constant(0.3), {0: 0.3, 7: 0.3, 10**9: 0.3}),
    (sl.step(1.0, 3, 0.5), {0: 1.0, 2: 1.0, 3: 0.5, 4: 0.5, 5: 0.5, 6: 0.25, 30: 0.5**10}),
    (sl.multistep(1.0, [0, 4], 0.5), {0: 0.5, 3: 0.5, 4: 0.25, 5: 0.25, 10**6: 0.25}),
    (sl.multistep(1.0, [2, 5], 0.1), {0: 1.0, 1: 1.0, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.01, 9: 0.01}),
    (sl.exponential(1.0, 0.5, every=2), {0: 1.0, 1: R2, 2: 0.5, 3: 0.5 * R2, 20: 0.5**10}),
    (sl.exponential(1.0, 0.5, every=2, staircase=True), {0: 1.0, 1: 1.0, 2: 0.5, 3: 0.5, 4: 0.25}),
    (sl.inverse_time(1.0, 0.5, every=2), {0: 1.0, 1: 0.8, 2: 2 / 3, 3: 4 / 7, 4: 0.5}),
    (sl.inverse_time(1.0, 1.0, every=2, staircase=True), {0: 1.0, 1: 1.0, 2: 0.5, 3: 0.5}),
    (sl.polynomial(1.0, 4, power=2.0, end_lr=0.2), {0: 1.0, 2: 0.4, 3: 0.25, 4: 0.2, 5: 0.2}),
    # cycle: horizon steps*ceil(t/steps): t=4 -> 4 (end), t=5 -> 8, t=9 -> 12 (1 - 9/12).
    (sl.polynomial(1.0, 4, cycle=True), {0: 1.0, 3: 0.25, 4: 0.0, 5: 0.375, 8: 0.0, 9: 0.25}),
    (sl.linear(0.0, 1.0, 4), {0: 0.0, 3: 0.75, 4: 1.0, 5: 1.0, 10**12: 1.0}),
    (sl.linear(1.0, 0.2, 4), {0: 1.0, 1: 0.8, 3: 0.4, 4: 0.2, 100: 0.2}),
    (
        sl.cosine(1.0, 4, min_lr=0.2),
        {0: 1.0, 1: 0.2 + 0.8 * (1 + R2) / 2, 2: 0.6, 3: 0.2 + 0.8 * (1 - R2) / 2, 4: 0.2, 5: 0.2},
    ),
    (sl.cosine_restarts(1.0, 4), {0: 1.0, 2: 0.5, 3: (1 - R2) / 2, 4: 1.0, 6: 0.5, 8: 1.0}),
    # t_mult=2, m_mul=0.5: cycles [0,2) [2,6) [6,14) with peaks 1, 0.5, 0.25
    (
        sl.cosine_restarts(1.0, 2, t_mult=2, m_mul=0.5),
        {0: 1.0, 1: 0.5, 2: 0.5, 4: 0.25, 5: 0.25 * (1 - R2), 6: 0.25, 10: 0.125, 14: 0.125},
    ),
    (sl.cyclic(0.0, 1.0, 2), {0: 0.0, 1: 0.5, 2: 1.0, 3: 0.5, 4: 0.0, 6: 1.0}),
    (sl.cyclic(0.0, 1.0, 1, 3), {0: 0.0, 1: 1.0, 2: 2 / 3, 4: 0.0, 5: 1.0}),
    (sl.cyclic(0.0, 1.0, 2, mode="triangular2"), {2: 1.0, 4: 0.0, 6: 0.5, 10: 0.25}),
    (sl.cyclic(0.0, 1.0, 2, mode="exp_range", gamma=0.5), {0: 0.0, 1: 0.25, 2: 0.25, 6: 1 / 64}),
    # one_cycle: initial 1/25=0.04, floor 4e-6; phases end at 0.5*10-1=4 and 9.
    (
        sl.one_cycle(1.0, 10, pct_start=0.5, anneal="linear"),
        {0: 0.04, 2: 0.52, 4: 1.0, 5: 0.8 + 0.2 * 4e-6, 9: 4e-6, 100: 4e-6},
    ),
    (sl.one_cycle(1.0, 10, pct_start=0.5), {0: 0.04, 2: 0.52, 4: 1.0, 9: 4e-6, 10: 4e-6}),
    # three_phase: up to 0.4*10-1=3, back to 0.04 at 6, down to the floor at 9.
    (
        sl.one_cycle(1.0, 10, pct_start=0.4, anneal="linear", three_phase=True),
        {0: 0.04, 3: 1.0, 6: 0.04, 9: 4e-6, 12: 4e-6},
    ),
    (sl.warmup(sl.constant(1.0), 4), {0: 0.0, 1: 0.25, 3: 0.75, 4: 1.0, 5: 1.0}),
    (
        sl.warmup(sl.linear(1.0, 0.0, 4), 2, start_lr=0.5),
        {0: 0.5, 1: 0.75, 2: 1.0, 3: 0.75, 6: 0.0},
    ),
    (sl.warmup(sl.constant(1.0), 2, start_lr=0.25, shape="exponential"), {0: 0.25, 1: 0.5, 2: 1.0}),
    (sl.warmup(sl.constant(1.0), 2, start_lr=0.25, shape="constant"), {0: 0.25, 1: 0.25, 2: 1.0}),
    (sl.warmup(sl.constant(1.0), 0, start_lr=0.25), {0: 1.0, 1: 1.0}),
    (
        sl.wsd(1.0, 10, decay_steps=4, warmup_steps=2),
        {0: 0.0, 1: 0.5, 2: 1.0, 5: 1.0, 6: 1.0, 7: 0.75, 9: 0.25, 10: 0.0, 11: 0.0},
    ),
    (sl.wsd(1.0, 10, decay_steps=4, decay="cosine", min_lr=0.2), {0: 1.0, 6: 1.0, 8: 0.6, 10: 0.2}),
    (sl.wsd(1.0, 8, decay_steps=4, decay="1-sqrt"), {4: 1.0, 5: 0.5, 8: 0.0, 9: 0.0}),
    (
        sl.inverse_sqrt(1.0, 4),
        {0: 0.0, 2: 0.5, 3: 0.75, 4: 1.0, 5: 2 / math.sqrt(5), 16: 0.5, 64: 0.25},
    ),
    (sl.inverse_sqrt(1.0, 0, timescale=4.0), {0: 1.0, 12: 0.5}),
    (sl.inverse_sqrt(1.0, 0), {0: 1.0, 30_000: 0.5}),
    (
        sl.piecewise_constant([2, 5], [1.0, 0.5, 0.1]),
        {0: 1.0, 2: 1.0, 2.5: 0.5, 3: 0.5, 5: 0.5, 6: 0.1},
    ),
    (
        sl.piecewise_linear([[2, 0.0], [6, 1.0], [8, 0.5]]),
        {0: 0.0, 2: 0.0, 3: 0.25, 6: 1.0, 7: 0.75, 8: 0.5, 9: 0.5},
    ),
    (
        sl.sequence([sl.constant(1.0), sl.linear(1.0, 0.0, 4)], [2]),
        {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.75, 6: 0.0},
    ),
    (sl.scale(sl.linear(1.0, 0.0, 4), by=sl.constant(0.5)), {0: 0.5, 2: 0.25, 4: 0.0}),
    (0.5 * sl.constant(0.4), {0: 0.2}),
    # hf: num_training_steps=10 counts the warmup of 2, so the decays take the 8 steps after it.
    (sl.hf("linear", 1.0, 2, 10), {0: 0.0, 1: 0.5, 2: 1.0, 6: 0.5, 9: 0.125, 10: 0.0, 11: 0.0}),
    (sl.hf("cosine", 1.0, 2, 10), {1: 0.5, 2: 1.0, 4: (1 + R2) / 2, 6: 0.5, 10: 0.0, 14: 0.0}),
    (sl.hf("cosine", 1.0, 0, 8, num_cycles=1.0), {0: 1.0, 2: 0.5, 4: 0.0, 6: 0.5, 8: 1.0, 9: 1.0}),
    (
        sl.hf("cosine_with_restarts", 1.0, 2, 10, num_cycles=2),
        {2: 1.0, 4: 0.5, 5: (1 - R2) / 2, 6: 1.0, 8: 0.5, 9: (1 - R2) / 2, 10: 0.0},
    ),
    (
        sl.hf("polynomial", 1.0, 2, 10, lr_end=0.2, power=2.0),
        {1: 0.5, 2: 1.0, 6: 0.4, 10: 0.2, 11: 0.2},
    ),
    (sl.hf("constant", 0.3), {0: 0.3, 10**9: 0.3}),
    (sl.hf("constant_with_warmup", 1.0, 4), {0: 0.0, 1: 0.25, 4: 1.0, 10**6: 1.0}),
    (sl.hf("inverse_sqrt", 1.0, 4), {2: 0.5, 4: 1.0, 16: 0.5}),
    (sl.hf("cosine_with_min_lr", 1.0, 2, 10, min_lr=0.2), {1: 0.5, 2: 1.0, 6: 0.6, 10: 0.2}),
    (sl.hf("cosine_with_min_lr", 1.0, 2, 10, min_lr_rate=0.2), {6: 0.6, 10: 0.2, 12: 0.2}),
    # warmup_stable_decay: from min_lr_ratio * lr; 2 up, 4 stable, 4 down (cosine by default).
    (
        sl.hf("warmup_stable_decay", 1.0, 2, 10, num_decay_steps=4, min_lr_ratio=0.2),
        {0: 0.2, 1: 0.6, 2: 1.0, 5: 1.0, 6: 1.0, 8: 0.6, 10: 0.2, 11: 0.2},
    ),
    (
        sl.hf(
            "warmup_stable_decay",
            1.0,
            2,
            num_decay_steps=4,
            num_stable_steps=1,
            warmup_type="cosine",
            decay_type="1-sqrt",
        ),
        {0: 0.0, 1: 0.5, 2: 1.0, 3: 1.0, 4: 0.5, 7: 0.0},
    ),
]


@pytest.mark.parametrize(("schedule", "table"), TABLES, ids=lambda v: repr(v)[:40])
def test_hand_table(schedule, table):
    for t, expected in table.items():
        assert schedule(t) == pytest.approx(expected, rel=1e-12, abs=1e-15), (t, expected)
    steps = np.array(list(table), dtype=float)
    np.testing.assert_allclose(schedule(steps), list(table.values()), rtol=1e-12, atol=1e-15)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_growth_with_gamma_above_one():
    """gamma > 1 is valid: the rate grows, overflows to inf for huge steps, and 0 stays 0."""
    assert sl.exponential(1.0, 2.0)(10) == 1024.0
    assert sl.step(1.0, 2, 3.0)(5) == 9.0
    assert sl.exponential(1.0, 2.0)(10**6) == math.inf
    for zero in (sl.exponential(0.0, 2.0), sl.step(0.0, 1, 2.0), sl.multistep(0.0, [1], 2.0)):
        assert zero(10**12) == 0.0 and not np.isnan(zero(np.array([0, 10**12]))).any()


MODULES = [
    "base", "params", "shapes", "decays", "cycles", "warmups", "piecewise", "composition", "hf",
    "spec", "nested", "checks",
]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"schedlab.schedules.{name}")
    globs = {name: getattr(sl, name) for name in sl.__all__}
    globs["schedlab"] = sl
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, result
