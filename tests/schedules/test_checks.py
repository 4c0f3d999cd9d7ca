"""Pitfall checks: each rule fires on its pitfall, stays quiet on a sound schedule, and its fix
(a spec) parses and removes the pitfall; properties over every kind: a fix never equals the
schedule, applying it removes its finding, and following fixes ends (no cycle)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sched_cases import schedules

import schedlab
from schedlab.errors import SpecError
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
    ("cosine(lr=0.1, steps=8)", RunContext(steps=8, steps_per_epoch=50, unit="epoch"), "SL004"),
    # written in iterations (1000 = 10 epochs x 100), stepped per epoch: the Keras per-batch mix-up
    ("cosine(lr=0.1, steps=1000)", RunContext(steps=10, steps_per_epoch=100), "SL006"),
    ("cosine(lr=0.1, steps=1000)", RunContext(10, 100, unit="epoch"), "SL006"),
    # written in epochs (10), stepped per iteration
    ("cosine(lr=0.1, steps=10)", RunContext(steps=1000, steps_per_epoch=100), "SL006"),
    ("cosine(lr=0.1, steps=10)", RunContext(1000, 100, unit="step"), "SL006"),
    ("cyclic(0.001, 0.1, step_size_up=1000)", RunContext(steps=1000), "SL007"),
    ("hf('linear', 0.1, 10, 100)", RunContext(steps=300), "SL001"),
    ("hf('cosine', 0.1, 10, 1000)", RunContext(steps=200), "SL007"),
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
    assert fixed != schedlab.from_spec(spec)
    assert rule not in ids(fixed, ctx.in_unit(finding.fix_unit))


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


# --- the misfires --------------------------------------------------------------------------


FITTED = [
    "cosine(0.1, {n})",
    "cosine(0.1, {n}, min_lr=0.001)",
    "linear(0.1, 0.001, {n})",
    "polynomial(0.1, {n}, power=2.0)",
    "one_cycle(0.1, {n})",
    "wsd(0.1, {n}, decay_steps={d})",
    "cosine(0.1, {n3})",  # still decaying at the end: not at its floor
    "hf('linear', 0.1, 0, {n})",
    "hf('cosine', 0.1, {w}, {n})",
]
# Step-wise decays spend a whole level at the floor: with three levels, its last 20-25%.
STEPWISE = ["step(0.1, {s})", "multistep(0.1, {m})"]


def _fitted(template: str, n: int) -> str:
    m = sorted({n // 2, -(-3 * n // 4)})  # the classic 50% / 75% milestones
    s = -(-2 * n // 5)
    return template.format(n=n, d=max(1, n // 3), s=s, m=m, n3=3 * n, w=(n - 1) // 10)


@pytest.mark.parametrize("n", range(1, 26))
@pytest.mark.parametrize("template", FITTED)
def test_a_decay_fitted_to_a_short_run_is_not_too_early(template, n):
    """SL001 used to fire for every decay on a short run (its last step is its floor)."""
    assert "SL001" not in ids(_fitted(template, n), RunContext(steps=n))


@pytest.mark.parametrize("n", range(10, 26))
@pytest.mark.parametrize("template", STEPWISE)
def test_a_stepwise_decay_fitted_to_a_short_run_is_not_too_early(template, n):
    assert "SL001" not in ids(_fitted(template, n), RunContext(steps=n))
    if template.startswith("multistep"):  # milestones at half the steps: the floor from 38%
        assert "SL001" in ids(_fitted(template, n // 2), RunContext(steps=n))


def test_fixes_do_not_go_in_circles():
    """cosine steps 3 on a 3-step run used to get 3 -> 4 -> 5 -> 6 from SL001 and 3 from SL007."""
    length = {"SL001", "SL007"}
    assert not length & set(ids("cosine(0.1, steps=3)", RunContext(steps=3)))
    (early,) = [f for f in check("cosine(0.1, steps=2)", RunContext(steps=4)) if f.id in length]
    assert early.id == "SL001" and early.fix == "cosine(lr=0.1, steps=4)"
    assert not length & set(ids(early.fix, RunContext(steps=4)))
    (long,) = [f for f in check("cosine(0.1, steps=9)", RunContext(steps=3)) if f.id in length]
    assert long.id == "SL007" and long.fix == "cosine(lr=0.1, steps=3)"


def test_short_cosine_in_epochs_says_the_fix_counts_optimizer_steps():
    ctx = RunContext(steps=8, steps_per_epoch=100, unit="epoch")
    (short,) = [f for f in check("cosine(lr=0.1, steps=8)", ctx) if f.id == "SL004"]
    assert short.fix == "cosine(lr=0.1, steps=800)" and short.fix_unit == "step"
    assert "the fix counts optimizer steps, not epochs" in short.message
    assert "8 epochs x 100 steps per epoch = 800 steps" in short.message
    assert "unit='step'" in short.message
    per_step = ctx.in_unit("step")
    assert per_step == RunContext(steps=800, steps_per_epoch=100, unit="step")
    assert "SL004" not in ids(short.fix, per_step)
    assert short.to_dict()["fix_unit"] == "step"


@pytest.mark.parametrize(
    "ctx",
    [RunContext(8), RunContext(8, 100), RunContext(8, 100, unit="step"), RunContext(8, 1, unit="epoch")],
)  # fmt: skip
def test_short_cosine_without_a_known_epoch_unit_gets_a_linear_decay(ctx):
    (short,) = [f for f in check("warmup(cosine(0.1, 6, min_lr=0.01), 2)", ctx) if f.id == "SL004"]
    assert short.fix_unit is None and short.to_dict()["fix_unit"] is None
    assert short.fix == "warmup(schedule=linear(start_lr=0.1, end_lr=0.01, steps=6), steps=2)"
    assert f"over only 8 {ctx.unit or 'step'}s" in short.message


def test_the_run_unit_decides_which_mix_up_is_possible():
    """A run counted in optimizer steps cannot be fed a schedule written in optimizer steps for
    a run counted in epochs, and the reverse: only SL007 remains."""
    assert "SL006" not in ids("cosine(0.1, steps=1000)", RunContext(10, 100, unit="step"))
    assert "SL007" in ids("cosine(0.1, steps=1000)", RunContext(10, 100, unit="step"))
    assert "SL006" not in ids("cosine(0.1, steps=10)", RunContext(1000, 100, unit="epoch"))


def digits(number: str) -> int:
    """Significant digits of a number as printed (``0.00123`` -> 3, ``2.5e-05`` -> 2)."""
    mantissa = number.lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." in number else len(mantissa)


@pytest.mark.parametrize("lr", [0.1, 0.3, 0.7, 3e-4, 0.025, 1.1, 0.123])
def test_suggested_specs_carry_no_float_noise(lr):
    cases = [
        (f"cosine({lr}, steps=30)", RunContext(steps=100, optimizer="adam")),
        (f"warmup(cosine({lr}, 90, min_lr={lr / 30}), 10, start_lr={lr / 7})",
         RunContext(steps=100, optimizer="adamw")),
        (f"cyclic({lr / 10}, {lr}, step_size_up=7)", RunContext(steps=100)),
        (f"piecewise_linear([[0, {lr}], [30, 0.0]])", RunContext(steps=100, optimizer="adam")),
        (f"cosine({lr}, 8, min_lr=0.01)", RunContext(steps=8)),
    ]  # fmt: skip
    fixes = [f.fix for spec, ctx in cases for f in check(spec, ctx)]
    assert len(fixes) >= 5
    numbers = [x for fix in fixes for x in re.findall(r"\d[\d.]*(?:e-?\d+)?", fix)]
    assert max(map(digits, numbers)) <= 6, fixes
    assert scale_rates(f"cosine({lr}, 10, min_lr=0.03)", 0.01).params["min_lr"] == 0.0003
    assert with_floor("linear(2.5, 0.0, 10)").params["end_lr"] == 0.025


def test_transforms_follow_the_roles_of_any_kind():
    """checks.py knows no parameter names: hf's counts stretch, its rates scale, its factors stay."""
    s = schedlab.hf("cosine_with_min_lr", 0.1, 10, 100, min_lr=0.0, num_cycles=0.5)
    assert stretch(s, 2).params == {**s.params, "num_warmup_steps": 20, "num_training_steps": 200}
    assert scale_rates(s, 0.5).params["lr"] == 0.05
    assert with_floor(s).params["min_lr"] == 0.001
    r = schedlab.hf("cosine_with_min_lr", 0.1, 10, 100, min_lr_rate=0.1)
    assert scale_rates(r, 0.5).params["min_lr_rate"] == 0.1  # a factor, not a rate
    w = schedlab.hf("inverse_sqrt", 0.1, 10, timescale=25.0)
    assert stretch(w, 4).params["timescale"] == 100.0
    # a factor per step: exp_range's gamma**t keeps its value at the stretched step
    c = schedlab.cyclic(0.0, 1.0, 10, mode="exp_range", gamma=0.99)
    t = np.arange(60.0)
    np.testing.assert_allclose(stretch(c, 3)(3 * t), c(t), rtol=1e-9)


def test_stretch_keeps_phases_inside_their_totals():
    """Rounding each count to the nearest step would break warmup + decay <= steps here."""
    s = schedlab.wsd(0.1, steps=2, decay_steps=1, warmup_steps=1)
    fitted = stretch(s, 1.5)
    q = fitted.params
    assert q["warmup_steps"] + q["decay_steps"] <= q["steps"] == 3


def test_unit_and_context_checks():
    with pytest.raises(SpecError, match="check: unit must be one of epoch, step; got 'epochs'"):
        RunContext(10, unit="epochs")
    with pytest.raises(SpecError, match="cannot be counted in 'step'"):
        RunContext(10).in_unit("step")
    assert RunContext(10, 5, unit="epoch").in_unit(None) == RunContext(10, 5, unit="epoch")


# --- properties ----------------------------------------------------------------------------------


@st.composite
def contexts(draw, steps=None):
    return RunContext(
        steps=draw(st.integers(1, 300)) if steps is None else steps,
        steps_per_epoch=draw(st.sampled_from([None, 1, 3, 20, 100])),
        optimizer=draw(st.sampled_from([None, "sgd", "adam", "adamw"])),
        batch_size=draw(st.sampled_from([None, 64, 4096])),
        model=draw(st.sampled_from([None, "vit", "mlp"])),
        final=draw(st.booleans()),
        unit=draw(st.sampled_from([None, "epoch", "step"])),
    )


@st.composite
def near_the_run(draw):
    """A common schedule whose horizon is a multiple of the run (0.1x .. 4x, or steps_per_epoch
    times off), with its run: where the pitfalls are."""
    ctx = draw(contexts())
    spe = ctx.steps_per_epoch
    scales = [0.1, 0.3, 0.6, 0.9, 1.0, 1.2, 2.0, 4.0] + ([spe, 1 / spe] if spe else [])
    h = max(1, round(ctx.steps * draw(st.sampled_from(scales))))
    lr = draw(st.sampled_from([1e-3, 3e-4, 0.1, 0.05, 1.0]))
    floor = draw(st.sampled_from([0.0, 0.01 * lr]))
    third = max(1, h // 3)
    specs = [
        f"cosine({lr}, {h}, {floor})",
        f"linear({lr}, {floor}, {h})",
        f"polynomial({lr}, {h}, 2.0, {floor})",
        f"step({lr}, {third})",
        f"multistep({lr}, {sorted({h // 2, h})})",
        f"exponential({lr}, 0.5, every={max(1, h // 10)})",
        f"cosine_restarts({lr}, {h}, min_lr={floor})",
        f"cyclic({floor}, {lr}, {max(1, h // 2)})",
        f"one_cycle({lr}, {h})",
        f"wsd({lr}, {h}, {h // 5}, {h // 10}, min_lr={floor})",
        f"warmup(cosine({lr}, {h}, {floor}), {max(1, h // 20)})",
        f"hf('cosine', {lr}, {h // 20}, {h})",
        f"hf('linear', {lr}, {h // 10}, {h})",
        f"piecewise_constant([{h // 2}, {h}], [{lr}, {lr / 10}, {lr / 100}])",
        f"sequence([linear(0, {lr}, {third}), cosine({lr}, {h}, {floor})], [{third}])",
    ]
    return schedlab.from_spec(draw(st.sampled_from(specs))), ctx


cases = st.one_of(near_the_run(), st.tuples(schedules, contexts()))


@settings(max_examples=150, deadline=None)
@given(case=cases)
def test_a_fix_differs_from_the_schedule_and_removes_its_finding(case):
    s, ctx = case
    for f in check(s, ctx):
        fixed = schedlab.from_spec(f.fix)
        assert fixed != s, f
        assert f.id not in ids(fixed, ctx.in_unit(f.fix_unit)), (s, ctx, f)


@settings(max_examples=100, deadline=None)
@given(case=cases, picks=st.lists(st.integers(0, 7), min_size=16, max_size=16))
def test_following_fixes_ends_without_a_cycle(case, picks):
    """Whichever finding's fix is applied at each step, the schedules visited never repeat and
    no finding is left after a few steps."""
    s, ctx = case
    seen = [(s, ctx)]
    for pick in picks:
        found = check(s, ctx)
        if not found:
            return
        f = found[pick % len(found)]
        s, ctx = schedlab.from_spec(f.fix), ctx.in_unit(f.fix_unit)
        assert (s, ctx) not in seen, (f, seen)
        seen.append((s, ctx))
    assert check(s, ctx) == [], seen
