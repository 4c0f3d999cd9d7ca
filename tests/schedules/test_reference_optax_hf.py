"""Reference tests against optax (in float64) and Hugging Face ``transformers`` schedules.

optax runs with ``jax_enable_x64`` switched on for this module only (restored afterwards), so its
values are float64 and 1e-12 is meaningful; every optax value is checked to really be float64.
Hugging Face schedules are ``LambdaLR``s (closed form, ``base_lr * factor(t)``) stepped on a real
SGD optimizer.  Where a reference uses the textbook ``(1 + cos x) / 2``, ``1 - sqrt(x)`` or
``(end - start) * pct + start``, it is only *absolutely* precise as the value approaches zero, so
an absolute slack of a few ``eps * lr`` is added to ``rtol=1e-12``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sched_cases import EPS, PROFILE

import schedlab

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

lrs = st.floats(1e-4, 10.0)


@pytest.fixture(autouse=True, scope="module")
def _x64_and_one_thread():
    x64 = jax.config.jax_enable_x64
    threads = torch.get_num_threads()
    jax.config.update("jax_enable_x64", True)
    torch.set_num_threads(1)
    yield
    jax.config.update("jax_enable_x64", x64)
    torch.set_num_threads(threads)


PAD = 128  # one array shape for every call, so that jax compiles each primitive once


def optax_rates(schedule, steps, vectorized: bool = True) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.float64)
    assert steps.size <= PAD
    if vectorized:
        padded = np.zeros(PAD)
        padded[: steps.size] = steps
        # (optax.constant_schedule returns one value whatever the steps' shape)
        out = np.broadcast_to(np.asarray(schedule(jax.numpy.asarray(padded))), PAD)[: steps.size]
    else:  # piecewise_interpolate_schedule only takes one step at a time
        out = np.array([np.asarray(schedule(jax.numpy.float64(t))) for t in steps])
    assert out.dtype == np.float64, out.dtype
    return out


def assert_matches(ours, ref, atol=0.0) -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    bad = np.abs(ours - ref) > 1e-12 * np.abs(ref) + atol
    assert not bad.any(), (np.flatnonzero(bad)[:3], ours[bad][:3], ref[bad][:3])


# --- optax -------------------------------------------------------------------------------------


@st.composite
def optax_pairs(draw):
    """A schedlab schedule and the optax schedule it maps to."""
    lr = draw(lrs)
    steps = draw(st.integers(1, 200))
    kind = draw(st.sampled_from(["constant", "linear", "cosine", "exponential"]))
    if kind == "constant":
        return schedlab.constant(lr), optax.constant_schedule(lr)
    if kind == "linear":
        end = draw(st.one_of(st.just(0.0), lrs))
        return schedlab.linear(lr, end, steps), optax.linear_schedule(lr, end, steps)
    if kind == "cosine":
        alpha = draw(st.floats(0.0, 1.0))
        return (
            schedlab.cosine(lr, steps, min_lr=alpha * lr),
            optax.cosine_decay_schedule(lr, steps, alpha=alpha),
        )
    gamma, staircase = draw(st.floats(0.05, 1.0)), draw(st.booleans())
    return (
        schedlab.exponential(lr, gamma, every=steps, staircase=staircase),
        optax.exponential_decay(lr, steps, gamma, staircase=staircase),
    )


steps_to_1000 = st.lists(st.integers(0, 1000), min_size=1, max_size=40)


@PROFILE
@given(
    pairs=st.lists(optax_pairs(), min_size=1, max_size=4),
    edges=st.lists(st.integers(1, 300), min_size=3, max_size=3, unique=True).map(sorted),
    steps=steps_to_1000,
)
def test_join_schedules(pairs, edges, steps):
    ours = schedlab.sequence([a for a, _ in pairs], edges[: len(pairs) - 1])
    ref = optax.join_schedules([b for _, b in pairs], edges[: len(pairs) - 1])
    probes = steps + [max(0, e + d) for e in edges for d in (-1, 0, 1)]
    top = max(a.params.get("lr", a.params.get("start_lr", 0.0)) for a, _ in pairs)
    assert_matches(ours(np.array(probes)), optax_rates(ref, probes), atol=4 * EPS * top)


@PROFILE
@given(
    init=lrs,
    marks=st.lists(st.integers(1, 500), min_size=1, max_size=6, unique=True).map(sorted),
    data=st.data(),
)
def test_piecewise_interpolate_linear(init, marks, data):
    scales = data.draw(st.lists(st.floats(0.0, 3.0), min_size=len(marks), max_size=len(marks)))
    ref = optax.piecewise_interpolate_schedule(
        "linear", init, dict(zip(marks, scales, strict=False))
    )
    levels = np.cumprod([init, *scales])  # optax interpolates the accumulated products
    ours = schedlab.piecewise_linear(
        [[0, init], *map(list, zip(marks, levels[1:].tolist(), strict=False))]
    )
    probes = data.draw(steps_to_1000) + [m + d for m in marks for d in (-1, 0, 1)]
    ref_values = optax_rates(ref, probes, vectorized=False)
    assert_matches(ours(np.array(probes)), ref_values, atol=4 * EPS * levels.max())


@PROFILE
@given(
    init=st.one_of(st.just(0.0), lrs),
    peak=lrs,
    warmup_steps=st.integers(0, 100),
    decay=st.integers(1, 300),
    end_frac=st.floats(0.0, 1.0),
    steps=steps_to_1000,
)
def test_warmup_cosine_decay_schedule(init, peak, warmup_steps, decay, end_frac, steps):
    end = peak * end_frac
    ref = optax.warmup_cosine_decay_schedule(init, peak, warmup_steps, warmup_steps + decay, end)
    ours = schedlab.warmup(schedlab.cosine(peak, decay, end), warmup_steps, start_lr=init)
    probes = [*steps, warmup_steps, warmup_steps + 1, warmup_steps + decay]
    assert_matches(ours(np.array(probes)), optax_rates(ref, probes), atol=4 * EPS * peak)


# --- Hugging Face --------------------------------------------------------------------------------


def hf_rates(lr: float, make, n: int) -> np.ndarray:
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    sched = make(opt)
    rates = []
    for _ in range(n):
        rates.append(opt.param_groups[0]["lr"])
        param.grad = torch.ones_like(param)
        opt.step()
        sched.step()
    return np.array(rates)


@PROFILE
@given(
    lr=lrs,
    steps=st.integers(1, 300),
    decay_frac=st.floats(0.0, 1.0),
    warmup_frac=st.floats(0.0, 1.0),
    decay=st.sampled_from(["linear", "cosine", "1-sqrt"]),
    min_ratio=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
    extra=st.integers(0, 30),
)
def test_get_wsd_schedule(lr, steps, decay_frac, warmup_frac, decay, min_ratio, extra):
    decay_steps = int(steps * decay_frac)
    warmup_steps = int((steps - decay_steps) * warmup_frac)

    def make(opt):
        return transformers.get_wsd_schedule(
            opt,
            num_warmup_steps=warmup_steps,
            num_decay_steps=decay_steps,
            num_training_steps=steps,
            decay_type=decay,
            min_lr_ratio=min_ratio,
        )

    n = steps + extra + 1
    ref = hf_rates(lr, make, n)
    ours = schedlab.wsd(lr, steps, decay_steps, warmup_steps, decay, min_lr=min_ratio * lr)
    assert_matches(ours(np.arange(n)), ref, atol=4 * EPS * lr)


@PROFILE
@given(
    lr=lrs,
    warmup_steps=st.integers(0, 200),
    timescale=st.one_of(st.none(), st.integers(1, 5000), st.floats(0.5, 5000.0)),
    n=st.integers(1, 400),
)
def test_get_inverse_sqrt_schedule(lr, warmup_steps, timescale, n):
    def make(opt):
        return transformers.get_inverse_sqrt_schedule(opt, warmup_steps, timescale=timescale)

    ref = hf_rates(lr, make, n)
    ours = schedlab.inverse_sqrt(lr, warmup_steps, timescale)(np.arange(n))
    # HF forms t + (timescale - warmup_steps), rounding |shift| * eps; ours is exact there.
    shift = abs((timescale if timescale is not None else warmup_steps or 10_000) - warmup_steps)
    assert_matches(ours, ref, atol=2 * EPS * lr * shift)
