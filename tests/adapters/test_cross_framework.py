"""The same spec gives the same rate at every step in PyTorch, Keras and optax.

For random specs of several kinds, three real optimizers are stepped: ``torch.optim.SGD`` under
``ScheduleLR``, ``keras.optimizers.SGD`` with ``KerasSchedule`` (``optimizer.apply`` loop) and
``optax.sgd`` with ``to_optax`` inside ``jax.jit``.  Keras and optax rates are read from the update
each step applied (gradient 1), so they are the rates the optimizers really used.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import schedlab  # noqa: E402
from schedlab.adapters.keras import KerasSchedule  # noqa: E402
from schedlab.adapters.optax import to_optax  # noqa: E402
from schedlab.adapters.torch import ScheduleLR  # noqa: E402

N = 48  # optimizer steps per run
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def torch_rates(spec, n=N, **kwargs) -> np.ndarray:
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=schedlab.from_spec(spec)(0))  # the schedule's start
    scheduler = ScheduleLR(optimizer, spec, **kwargs)
    rates = []
    for _ in range(n):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates)


def keras_rates(spec, n=N, **kwargs) -> np.ndarray:
    variable = keras.Variable(np.zeros(1, dtype="float32"))
    optimizer = keras.optimizers.SGD(learning_rate=KerasSchedule(spec, **kwargs))
    grad = keras.ops.ones((1,))
    rates = []
    for _ in range(n):
        variable.assign(np.zeros(1, dtype="float32"))
        optimizer.apply([grad], [variable])
        rates.append(-float(keras.ops.convert_to_numpy(variable)[0]))
    return np.array(rates)


def optax_rates(spec, n=N, **kwargs) -> np.ndarray:
    optimizer = optax.sgd(learning_rate=to_optax(spec, **kwargs))
    params = jax.numpy.zeros(1)

    @jax.jit
    def run(state):
        def one(state, _):
            updates, state = optimizer.update(jax.numpy.ones(1), state, params)
            return state, -updates[0]

        return jax.lax.scan(one, state, None, length=n)[1]

    return np.asarray(run(optimizer.init(params)), dtype=np.float64)


def assert_same_everywhere(s: schedlab.Schedule, **units) -> None:
    want = s(np.arange(N)) if not units else None
    from_torch = torch_rates(s, **units.get("torch", {}))
    if want is not None:  # PyTorch runs float64: the schedule's own values, to rounding
        np.testing.assert_allclose(from_torch, want, rtol=1e-12, atol=0)
    atol = 1e-6 * float(np.max(from_torch, initial=0.0))
    # Keras: float64 on the host, cast to float32; optax: computed in float32 inside jit.
    np.testing.assert_allclose(
        keras_rates(s, **units.get("keras", {})), from_torch, rtol=1e-6, atol=atol
    )
    np.testing.assert_allclose(
        optax_rates(s, **units.get("optax", {})), from_torch, rtol=2e-5, atol=atol
    )


lrs = st.floats(1e-3, 1.0)
horizon = st.integers(1, 60)
SPECS = st.one_of(
    st.builds(schedlab.step, lrs, st.integers(1, 20), st.floats(0.1, 0.9)),
    st.builds(schedlab.exponential, lrs, st.floats(0.8, 1.0), st.integers(1, 10), st.booleans()),
    st.builds(schedlab.polynomial, lrs, horizon, st.floats(0.5, 3.0), st.just(0.0), st.booleans()),
    st.builds(schedlab.cosine, lrs, horizon, st.floats(0.0, 1e-3)),
    st.builds(schedlab.cosine_restarts, lrs, st.integers(1, 20), st.sampled_from([1, 2, 1.5]),
              st.floats(0.5, 1.0)),
    st.builds(schedlab.cyclic, st.just(1e-3), lrs, st.integers(1, 15), st.none() | st.integers(1, 15),
              st.sampled_from(["triangular", "triangular2", "exp_range"]), st.floats(0.9, 1.0)),
    st.builds(schedlab.one_cycle, lrs, st.integers(2, 60), st.floats(0.1, 0.9),
              st.sampled_from(["cos", "linear"]), three_phase=st.booleans()),
    st.builds(schedlab.warmup, st.builds(schedlab.cosine, lrs, horizon), st.integers(0, 20),
              st.floats(0.0, 1e-3)),
    st.builds(schedlab.inverse_sqrt, lrs, st.integers(0, 20)),
    st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True).flatmap(
        lambda b: st.builds(schedlab.piecewise_constant, st.just(sorted(b)),
                            st.lists(lrs, min_size=len(b) + 1, max_size=len(b) + 1))),
)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=SPECS)
def test_same_rate_at_every_step_in_every_framework(s):
    assert_same_everywhere(s)


def test_epoch_unit_means_the_same_everywhere():
    """A spec written in epochs (5 optimizer steps each) stepped per optimizer iteration."""
    s = schedlab.from_spec("warmup(step(0.1, 3, 0.5), 2, 0.01)")
    units = {
        "torch": {"unit": "epoch", "interval": "step", "steps_per_epoch": 5},
        "keras": {"unit": "epoch", "steps_per_epoch": 5},
        "optax": {"unit": "epoch", "steps_per_epoch": 5},
    }
    assert_same_everywhere(s, **units)
    np.testing.assert_allclose(torch_rates(s, **units["torch"]), s(np.arange(N) // 5), rtol=1e-12)
