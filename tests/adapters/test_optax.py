"""The optax/JAX adapter: schedules traced inside jax.jit, real optax updates, Plateau control."""

from __future__ import annotations

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
torch = pytest.importorskip("torch")
import jax.numpy as jnp  # noqa: E402

import schedlab  # noqa: E402
from schedlab.adapters.optax import set_learning_rate, to_optax, update_on_plateau  # noqa: E402
from schedlab.errors import ConfigError  # noqa: E402

# Every kind, and every branch of every kind (staircase, cycle, modes, shapes, t_mult != 1, ...).
CASES = [
    "constant(0.1)",
    "step(0.1, 7, 0.5)",
    "multistep(0.1, [5, 20, 60], 0.3)",
    "exponential(0.1, 0.97, 3)",
    "exponential(0.1, 0.9, 10, staircase=true)",
    "inverse_time(0.1, 0.5, 4)",
    "inverse_time(0.1, 0.5, 4, staircase=true)",
    "polynomial(0.1, 50, 2.0, 0.001)",
    "polynomial(0.1, 30, 0.5, 0.01, cycle=true)",
    "linear(0.0, 0.2, 40)",
    "cosine(0.1, 90, 0.001)",
    "cosine_restarts(0.1, 10)",
    "cosine_restarts(0.1, 7, 2, 0.7, 0.001)",
    "cosine_restarts(0.1, 5, 1.5, 0.9)",
    "cyclic(0.001, 0.1, 8)",
    "cyclic(0.001, 0.1, 5, 11, 'triangular2')",
    "cyclic(0.001, 0.1, 6, None, 'exp_range', 0.99)",
    "one_cycle(0.1, 100)",
    "one_cycle(0.1, 80, 0.25, 'linear', three_phase=true)",
    "warmup(cosine(0.1, 60), 10)",
    "warmup(exponential(0.1, 0.95), 8, 0.001, 'exponential')",
    "warmup(step(0.1, 10), 5, 0.01, 'constant')",
    "wsd(0.1, 100, 30, 10)",
    "wsd(0.1, 100, 40, 0, 'cosine', 0.001)",
    "wsd(0.1, 100, 20, 5, '1-sqrt')",
    "inverse_sqrt(0.1, 10)",
    "inverse_sqrt(0.1, 0, 50.0)",
    "piecewise_constant([10, 30.5, 70], [0.1, 0.05, 0.02, 0.001])",
    "piecewise_linear([[0, 0.0], [10, 0.1], [80.5, 0.001]])",
    "piecewise_linear([[12, 0.05]])",
    "sequence([linear(0.0, 0.1, 10), cosine(0.1, 50)], [10])",
    "scale(cosine(0.1, 60), by=linear(1.0, 0.5, 30))",
    "scale(step(0.1, 10), 0.5)",
]
STEPS = np.arange(0, 200)
X64_AT_START = jax.config.jax_enable_x64


@pytest.fixture
def x64():
    """jax with 64-bit floats for one test; the flag is restored afterwards."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def traced_rates(fn, counts: np.ndarray) -> np.ndarray:
    """``fn`` evaluated inside ``jax.jit`` at each scalar count (as optax calls it)."""
    one = jax.jit(fn)
    batched = jax.jit(jax.vmap(fn))
    rates = np.asarray(batched(jnp.asarray(counts)))
    assert float(one(jnp.asarray(counts[-1]))) == pytest.approx(float(rates[-1]), rel=1e-6)
    return rates.astype(np.float64)


@pytest.mark.parametrize("spec", CASES)
def test_traced_float32_matches_numpy(spec):
    s = schedlab.from_spec(spec)
    got = traced_rates(to_optax(s), STEPS.astype(np.int32))
    want = s(STEPS)
    # float32 arithmetic: a few ulps relative, and an absolute floor for values that decay to 0.
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("spec", CASES)
def test_traced_x64_matches_numpy_to_1e12(spec, x64):
    s = schedlab.from_spec(spec)
    counts = np.concatenate([STEPS, [10**6, 2**31 - 1]]).astype(np.int64)
    rates = traced_rates(to_optax(s), counts)
    assert rates.dtype == np.float64
    want = s(counts)
    np.testing.assert_allclose(rates, want, rtol=1e-12, atol=1e-300)


def test_x64_flag_is_restored():
    assert jax.config.jax_enable_x64 is X64_AT_START
    want = jnp.float64 if X64_AT_START else jnp.float32
    assert to_optax("cosine(0.1, 10)")(3).dtype == want


def test_sgd_applies_the_schedule_inside_jit():
    """A real optax.sgd update in a jitted loop moves the parameters by exactly -lr * grad."""
    s = schedlab.from_spec("warmup(cosine(0.1, 40, 0.001), 5)")
    opt = optax.sgd(learning_rate=to_optax(s))
    params = jnp.zeros(3)
    grads = jnp.ones(3)

    @jax.jit
    def run(state):
        def body(state, _):
            updates, state = opt.update(grads, state, params)
            return state, updates[0]

        return jax.lax.scan(body, state, None, length=60)

    _, updates = run(opt.init(params))
    np.testing.assert_allclose(-np.asarray(updates), s(np.arange(60)), rtol=2e-6, atol=1e-9)


def test_epoch_unit_holds_the_rate_within_an_epoch():
    s = schedlab.step(lr=0.1, step_size=2, gamma=0.5)  # halves every 2 epochs
    counts = np.arange(0, 50, dtype=np.int32)
    got = traced_rates(to_optax(s, steps_per_epoch=5, unit="epoch"), counts)
    np.testing.assert_allclose(got, s(counts // 5), rtol=1e-7)
    assert got[9] == got[0] and got[10] == pytest.approx(0.05)
    # The pitfall it prevents: the same spec fed optimizer steps decays 5x too fast.
    assert traced_rates(to_optax(s), counts)[10] == pytest.approx(0.1 * 0.5**5)


def test_traced_float32_counts_are_exact_up_to_2_pow_24():
    s = schedlab.piecewise_constant([2**24 - 2], [0.1, 0.2])
    got = traced_rates(to_optax(s), np.array([2**24 - 2, 2**24 - 1], dtype=np.int32))
    np.testing.assert_allclose(got, [0.1, 0.2], rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "epochs"}, "to_optax: unit must be one of 'step', 'epoch', got 'epochs'"),
        ({"unit": "epoch"}, "steps_per_epoch must be a positive integer with unit='epoch'"),
        ({"unit": "epoch", "steps_per_epoch": 0}, "positive integer with unit='epoch'.*got 0"),
        ({"unit": "epoch", "steps_per_epoch": True}, "got True"),
        ({"steps_per_epoch": 10}, "steps_per_epoch is only used with unit='epoch'"),
    ],
)
def test_bad_units_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        to_optax("cosine(0.1, 10)", **kwargs)


def test_bad_schedule_is_a_value_error():
    with pytest.raises(ValueError, match="cosine: steps must be a positive integer, got 0"):
        to_optax({"kind": "cosine", "lr": 0.1, "steps": 0})


# --- Plateau through optax.inject_hyperparams ---------------------------------------------------


def test_set_learning_rate_keeps_dtype_and_finds_nested_state():
    opt = optax.chain(optax.clip(1.0), optax.inject_hyperparams(optax.sgd)(learning_rate=0.1))
    state = set_learning_rate(opt.init(jnp.zeros(2)), 0.025)
    injected = optax.tree_utils.tree_get(state, "learning_rate")
    assert injected.dtype == jnp.float32 and not injected.weak_type
    updates, _ = opt.update(jnp.array([0.5, -0.5]), state)
    np.testing.assert_allclose(np.asarray(updates), [-0.0125, 0.0125], rtol=1e-7)


def test_set_learning_rate_needs_an_injected_rate():
    state = optax.sgd(0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="inject_hyperparams"):
        set_learning_rate(state, 0.01)


def _regression_data(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    w = rng.normal(size=4).astype(np.float32)
    y = x @ w + 0.5 * rng.normal(size=64).astype(np.float32)  # noise: the loss plateaus
    return jnp.asarray(x[:48]), jnp.asarray(y[:48]), jnp.asarray(x[48:]), jnp.asarray(y[48:])


def test_plateau_drives_a_real_jax_training_loop():
    """Rates over 12 epochs match torch's ReduceLROnPlateau fed the same validation losses, and
    the injected rate is the one the jitted update uses (without retracing)."""
    x, y, vx, vy = _regression_data(0)
    plateau = schedlab.Plateau(0.3, patience=1, factor=0.5, threshold=0.05)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=plateau.lr)
    params = jnp.zeros(4)
    state = opt.init(params)
    traces = []

    def loss(p, a, b):
        return jnp.mean((a @ p - b) ** 2)

    @jax.jit
    def train_step(p, s):
        traces.append(1)
        g = jax.grad(loss)(p, x, y)
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, -updates / g  # the rate the update used

    used, val_losses = [], []
    for _ in range(12):
        for _ in range(3):
            params, state, rate = train_step(params, state)
            used.append(float(np.median(np.asarray(rate))))
        val_losses.append(float(loss(params, vx, vy)))
        state = update_on_plateau(plateau, state, val_losses[-1])
    assert len(traces) == 1

    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        ref_opt, patience=1, factor=0.5, threshold=0.05
    )
    want = []
    for v in val_losses:
        want += [ref_opt.param_groups[0]["lr"]] * 3
        ref.step(v)
    np.testing.assert_allclose(used, want, rtol=1e-6)
    assert min(want) < 0.3  # the plateau did reduce the rate during this run
    assert float(optax.tree_utils.tree_get(state, "learning_rate")) == pytest.approx(
        ref_opt.param_groups[0]["lr"], rel=1e-6
    )


def test_non_finite_metric_counts_as_no_improvement():
    """As in torch's ReduceLROnPlateau, a NaN is a bad epoch (here: reduced at once, patience 0),
    with a warning that says so; the jitted update then uses the reduced rate."""
    plateau = schedlab.Plateau(0.1, patience=0)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=plateau.lr)
    state = update_on_plateau(plateau, opt.init(jnp.zeros(1)), 1.0)
    with pytest.warns(RuntimeWarning, match="counted as no improvement: the rate is reduced"):
        state = update_on_plateau(plateau, state, math.nan)
    assert float(optax.tree_utils.tree_get(state, "learning_rate")) == pytest.approx(0.01)
    updates, _ = jax.jit(opt.update)(jnp.ones(1), state)
    assert float(updates[0]) == pytest.approx(-0.01)


def test_integer_learning_rate_is_cast_not_truncated():
    """inject_hyperparams stores learning_rate=1 as int32: a reduced rate must not become 0."""
    plateau = schedlab.Plateau(1, patience=0, factor=0.5)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=1)
    state = opt.init(jnp.zeros(2))
    for metric in (1.0, 2.0):
        state = update_on_plateau(plateau, state, metric)
    injected = optax.tree_utils.tree_get(state, "learning_rate")
    assert jnp.issubdtype(injected.dtype, jnp.floating) and float(injected) == 0.5
    updates, _ = opt.update(jnp.array([1.0, -2.0]), state)
    np.testing.assert_allclose(np.asarray(updates), [-0.5, 1.0])


def test_update_on_plateau_refuses_specs_and_per_step_warmups():
    state = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1).init(jnp.zeros(1))
    with pytest.raises(ConfigError, match=r"must be a schedlab\.Plateau object kept between calls"):
        update_on_plateau("plateau(lr=0.1)", state, 1.0)
    warm = schedlab.Plateau(0.1, warmup_steps=100, warmup_unit="step")
    with pytest.raises(ConfigError, match="warmup_unit must be 'update'"):
        update_on_plateau(warm, state, 1.0)
    assert warm.updates == 0  # refused before the plateau saw the metric


def test_plateau_checkpoint_recipe(tmp_path):
    """The documented recipe: after each update_on_plateau, save the plateau's state as JSON (with
    the optax state); a resumed run continues with the same rates as an uninterrupted one."""
    import json

    losses = [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    spec = "plateau(lr=0.3, patience=1, factor=0.5)"
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.3)

    def rates(plateau, state, stream):
        out = []
        for loss in stream:
            state = update_on_plateau(plateau, state, loss)
            out.append(float(optax.tree_utils.tree_get(state, "learning_rate")))
        return out, state

    plateau = schedlab.policy_from_spec(spec)
    whole, _ = rates(plateau, opt.init(jnp.zeros(1)), losses)
    plateau = schedlab.policy_from_spec(spec)
    first, state = rates(plateau, opt.init(jnp.zeros(1)), losses[:5])
    (tmp_path / "plateau.json").write_text(json.dumps(plateau.state_dict()))
    restored = schedlab.Plateau.from_state_dict(json.loads((tmp_path / "plateau.json").read_text()))
    rest, _ = rates(restored, state, losses[5:])
    assert first + rest == whole and min(whole) < 0.3


def test_repr_shows_the_schedule():
    assert repr(to_optax("cosine(0.1, 10)")) == (
        "OptaxSchedule(cosine(lr=0.1, steps=10, min_lr=0.0), unit='step')"
    )
    assert repr(to_optax("step(0.1, 3)", steps_per_epoch=5, unit="epoch")) == (
        "OptaxSchedule(step(lr=0.1, step_size=3, gamma=0.1), unit='epoch', steps_per_epoch=5)"
    )


def float32_ulps(spec: str, n: int) -> float:
    """Largest error of the traced float32 rate over steps 0..n-1, in float32 ulps of the exact
    (float64) value, where that value exceeds 1e-6 of the peak."""
    s = schedlab.from_spec(spec)
    steps = np.arange(n)
    got = np.asarray(jax.jit(jax.vmap(to_optax(s)))(jnp.asarray(steps, dtype=jnp.int32)))
    exact = s(steps)
    keep = exact > 1e-6 * exact.max()
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(got.astype(np.float64) - exact)[keep] / ulp[keep]))


@pytest.mark.parametrize(
    ("spec", "n", "documented"),
    [
        ("one_cycle(0.1, 100)", 100, 16),
        ("one_cycle(0.1, 10000)", 10000, 25),
        ("cosine(0.1, 10000)", 10000, 5),
        ("warmup(cosine(0.1, 1000), 100)", 1100, 8),
        ("exponential(0.1, 0.97, 3)", 200, 40),
    ],
)
def test_float32_precision_is_as_documented(spec, n, documented):
    """docs/adapters-keras-optax.md states these bounds (measured; x64 off)."""
    if jax.config.jax_enable_x64:
        pytest.skip("float32 only")
    assert float32_ulps(spec, n) <= documented
