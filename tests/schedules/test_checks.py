"""Pitfall checks: each rule fires on its pitfall, stays quiet on a sound schedule, and its fix
(a spec) parses and removes the pitfall."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedlab
from schedlab.schedules.checks import (
    RunContext,
    check,
    compact_text,
    scale_rates,
    stretch,
    with_floor,
)


def ids(spec, ctx):
    return [f.id for f in check(spec, ctx)]


# (spec, context, the id that must fire)
PITFALLS = [
    ("cosine(lr=0.1, steps=30)", RunContext(steps=100), "SL001"),
    ("multistep(0.1, milestones=[10, 20])", RunContext(steps=100), "SL001"),
    ("linear(0.1, 0.0, steps=50)", RunContext(steps=100), "SL002"),
    ("cosine(lr=1e-3, steps=1000)", RunContext(steps=1000, model="vit", optimizer="adam"), "SL003"),
    ("cosine(lr=0.1, steps=500)", RunContext(steps=500, batch_size=4096), "SL003"),
    ("cosine(lr=0.1, steps=8)", RunContext(steps=8), "SL004"),
    ("cyclic(0.001, 0.1, step_size_up=100)", RunContext(steps=1000), "SL005"),
    ("cosine_restarts(0.1, period=100)", RunContext(steps=1000), "SL005"),
    # written in iterations (1000 = 10 epochs x 100), stepped per epoch: the Keras per-batch mix-up
    ("cosine(lr=0.1, steps=1000)", RunContext(steps=10, steps_per_epoch=100), "SL006"),
    # written in epochs (10), stepped per iteration
    ("cosine(lr=0.1, steps=10)", RunContext(steps=1000, steps_per_epoch=100), "SL006"),
    ("polynomial(0.1, steps=1000, end_lr=0.001)", RunContext(steps=200), "SL007"),
    ("step(0.1, step_size=30)", RunContext(steps=100, optimizer="adam"), "SL008"),
]

SOUND = [
    ("cosine(lr=0.1, steps=100)", RunContext(steps=100, optimizer="sgd")),
    ("warmup(cosine(lr=1e-3, steps=950), steps=50)", RunContext(steps=1000, model="vit",
                                                                 optimizer="adam")),
    ("one_cycle(0.1, steps=500)", RunContext(steps=500, steps_per_epoch=50)),
    ("cosine(lr=0.1, steps=40)", RunContext(steps=40, steps_per_epoch=4)),
    ("cyclic(0.001, 0.1, step_size_up=100)", RunContext(steps=1000, final=False)),
    ("multistep(0.1, milestones=[50, 75])", RunContext(steps=100)),
    ("constant(0.01)", RunContext(steps=100, batch_size=64, model="cnn")),
    ("wsd(lr=3e-4, steps=1000, decay_steps=200, warmup_steps=50, min_lr=3e-6)",
     RunContext(steps=1000, model="vit", optimizer="adamw", batch_size=2048)),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "ctx", "rule"), PITFALLS)
def test_pitfall_fires_and_its_fix_removes_it(spec, ctx, rule):
    found = {f.id: f for f in check(spec, ctx)}
    assert rule in found, f"{rule} not in {list(found)}"
    finding = found[rule]
    assert finding.message and finding.title and finding.severity == "warning"
    fixed = schedlab.from_spec(finding.fix)  # a valid, parseable spec
    assert rule not in ids(fixed, ctx)


@pytest.mark.parametrize(("spec", "ctx"), SOUND)
def test_sound_schedules_pass(spec, ctx):
    assert check(spec, ctx) == []


def test_messages_carry_the_numbers():
    (early, zero) = check("cosine(lr=0.1, steps=30)", RunContext(steps=100))
    assert "step 30 of 100" in early.message and early.fix == "cosine(lr=0.1, steps=100)"
    assert "70 of 100" in zero.message and zero.fix == "cosine(lr=0.1, steps=30, min_lr=0.001)"


def test_unit_mixup_fix_converts_units():
    (mix,) = [
        f for f in check("cosine(lr=0.1, steps=10)", RunContext(1000, 100)) if f.id == "SL006"
    ]
    assert "epochs" in mix.message and mix.fix == "cosine(lr=0.1, steps=1000)"


def test_warmup_fix_keeps_the_run_length():
    (warm,) = check("cosine(lr=1e-3, steps=1000)", RunContext(steps=1000, model="vit"))
    assert warm.fix == "warmup(schedule=cosine(lr=0.001, steps=950), steps=50)"
    assert schedlab.from_spec(warm.fix).horizon == 1000


def test_plateau_free_adam_rate_fix_scales_every_rate():
    fixed = scale_rates("warmup(cosine(lr=0.1, steps=90, min_lr=0.01), steps=10, start_lr=0.02)",
                        0.01)  # fmt: skip
    assert (
        fixed.spec()
        == schedlab.from_spec(
            "warmup(cosine(lr=0.001, steps=90, min_lr=0.0001), steps=10, start_lr=0.0002)"
        ).spec()
    )


def test_with_floor_only_lifts_zero_floors():
    assert with_floor("cosine(lr=0.2, steps=10)").params["min_lr"] == pytest.approx(0.002)
    assert with_floor("cosine(lr=0.2, steps=10, min_lr=0.1)").params["min_lr"] == 0.1


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cosine(0.1, 100)", 100),
        ("warmup(cosine(0.1, 90), steps=10)", 100),
        ("multistep(0.1, [3, 7])", 7),
        ("sequence([constant(0.1), linear(0.1, 0.0, 20)], boundaries=[5])", 25),
        ("step(0.1, 10)", None),
        ("constant(0.1)", None),
        ("exponential(0.1, 0.9)", None),
        ("inverse_sqrt(0.1, 10)", None),
        ("cyclic(0.1, 1.0, 5)", 10),  # periodic: one cycle
        ("cyclic(0.1, 1.0, 5, step_size_down=7)", 12),
        ("cosine_restarts(0.1, period=8, t_mult=2)", 8),
        ("polynomial(0.1, 10, cycle=true)", None),
        ("polynomial(0.1, 10)", 10),
        ("one_cycle(0.1, 30)", 30),
        ("wsd(0.1, 40, decay_steps=10)", 40),
        ("piecewise_constant([2.5, 7.5], [0.1, 0.05, 0.01])", 7.5),
        ("piecewise_linear([[0, 0.1], [12, 0.01]])", 12),
        ("piecewise_linear([[3, 0.1]])", None),
        ("sequence([linear(0.1, 0.0, 20), constant(0.0)], boundaries=[20])", None),
        ("scale(cosine(0.1, 30), by=linear(1.0, 0.5, 50))", 50),
        ("hf('cosine', 0.1, num_warmup_steps=10, num_training_steps=100)", 100),
        ("hf('warmup_stable_decay', 0.1, 10, num_decay_steps=20, num_stable_steps=30)", 60),
        ("hf('inverse_sqrt', 0.1, 10)", None),
    ],
)
def test_horizon(spec, expected):
    assert schedlab.from_spec(spec).horizon == expected


@pytest.mark.parametrize(
    "spec",
    [
        "cosine_restarts(0.1, period=10, t_mult=2)",
        "warmup(cosine(0.1, 10), steps=2, shape='exponential', start_lr=0.001)",
        "cyclic(0.1, 1.0, 5, mode='exp_range', gamma=0.99)",
        "polynomial(0.1, 10, cycle=true)",
        "inverse_sqrt(0.1, 10)",
        "piecewise_linear([[0, 0.1], [10, 0.01]])",
        "scale(cosine(0.1, 10), by=0.5)",
        "one_cycle(0.1, steps=100, three_phase=true)",
    ],
)
def test_compact_text_round_trips(spec):
    s = schedlab.from_spec(spec)
    text = compact_text(s)
    assert schedlab.from_spec(text) == s
    assert len(text) <= len(repr(s))


@settings(max_examples=60, deadline=None)
@given(
    # not one_cycle: its phase ends at pct_start * steps - 1 (PyTorch), not a pure time scale
    kind=st.sampled_from(["cosine", "linear", "polynomial", "step", "multistep"]),
    steps=st.integers(20, 2000),
    factor=st.sampled_from([2, 3, 10]),
)
def test_stretch_is_a_time_rescaling(kind, steps, factor):
    specs = {
        "cosine": f"cosine(0.1, {steps})",
        "linear": f"linear(0.1, 0.001, {steps})",
        "polynomial": f"polynomial(0.1, {steps}, power=2.0)",
        "step": f"step(0.1, {steps // 3 + 1})",
        "multistep": f"multistep(0.1, [{steps // 3}, {2 * steps // 3 + 1}])",
    }
    s = schedlab.from_spec(specs[kind])
    t = np.arange(steps, dtype=float)
    np.testing.assert_allclose(stretch(s, factor)(t * factor), s(t), rtol=1e-9, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(steps=st.integers(20, 5000), lr=st.floats(1e-4, 1.0), floor=st.floats(0.001, 0.1))
def test_decays_fitted_to_the_run_never_warn_about_length(steps, lr, floor):
    ctx = RunContext(steps=steps)
    for spec in (f"cosine({lr}, {steps}, min_lr={lr * floor})",
                 f"linear({lr}, {lr * floor}, {steps})", f"one_cycle({lr}, {steps})"):  # fmt: skip
        assert not {"SL001", "SL002", "SL007"} & set(ids(spec, ctx))


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(40, 5000), frac=st.floats(0.05, 0.6))
def test_a_decay_ending_early_is_always_flagged_and_fixed(steps, frac):
    short = max(1, int(steps * frac))
    ctx = RunContext(steps=steps)
    found = {f.id: f for f in check(f"cosine(0.1, {short}, min_lr=0.001)", ctx)}
    assert "SL001" in found
    assert "SL001" not in ids(found["SL001"].fix, ctx)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps must be an integer in \\[1, 10000000\\]; got 0"),
        ({"steps": True}, "steps must be an integer"),
        ({"steps": 10, "steps_per_epoch": -1}, "steps_per_epoch must be"),
        ({"steps": 10, "optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, adamw; got 'rmsprop'"),
        ({"steps": 10, "batch_size": 0}, "batch_size must be"),
        ({"steps": 10, "model": ""}, "model must be a non-empty string"),
    ],
)  # fmt: skip
def test_bad_context_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RunContext(**kwargs)


def test_bad_spec_and_factor_are_clear_errors():
    with pytest.raises(ValueError, match="unknown schedule kind 'cosin'"):
        check("cosin(0.1, 10)", RunContext(steps=10))
    with pytest.raises(ValueError, match="stretch: factor must be a finite number > 0; got 0"):
        stretch("cosine(0.1, 10)", 0)
