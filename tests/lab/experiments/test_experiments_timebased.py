"""Keras' compounding "time-based decay" (LearningRateScheduler(fn(epoch, lr))) in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedlab import from_spec, inverse_time
from schedlab.lab.experiments.timebased import compounding_rate, compounding_spec


def keras_rates(lr: float, decay: float, epochs: int) -> list[float]:
    """The rate the real Keras callback sets at the start of each epoch (as the blog ran it)."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    callback = keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate / (1 + decay * epoch))
    callback.set_model(model)
    rates = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    return rates


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # keras internals
def test_matches_the_real_keras_callback() -> None:
    expected = keras_rates(0.5, 0.5 / 100, 100)
    ours = [compounding_rate(0.5, 0.005, e) for e in range(100)]
    # Keras keeps the rate in float32 and compounds it: ~1e-7 relative per epoch
    np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=0)
    assert ours[1] == pytest.approx(0.5 / 1.005, rel=1e-15)
    assert ours[2] == pytest.approx(0.5 / (1.005 * 1.01), rel=1e-15)


def test_spec_is_exact_at_every_epoch_and_json_round_trips() -> None:
    spec = compounding_spec(0.5, 0.005, 100)
    schedule = from_spec(spec)
    for e in (0, 1, 37, 38, 99):
        assert schedule(e) == compounding_rate(0.5, 0.005, e)
    assert from_spec(schedule.spec())(38) == schedule(38)


def test_learning_almost_stops_near_epoch_38_unlike_inverse_time() -> None:
    """The source: "learning almost stops at around 38 epochs" -- true of the compounding form only."""
    assert compounding_rate(0.5, 0.005, 38) < 0.05 * 0.5
    assert inverse_time(lr=0.5, decay_rate=0.005)(38) > 0.8 * 0.5
    assert compounding_rate(0.5, 0.005, 99) < 1e-9


def test_compressed_horizon_samples_the_source_curve() -> None:
    """A 25-epoch run sees at epoch e what the 100-epoch source saw at epoch 4e."""
    schedule = from_spec(compounding_spec(0.5, 0.005, 25, source_epochs=100))
    for e in range(25):
        assert schedule(e) == pytest.approx(compounding_rate(0.5, 0.005, 4 * e), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    decay=st.floats(1e-4, 0.5),
    epoch=st.integers(1, 300),
    frac=st.floats(0.01, 0.99),
)
def test_gamma_form_interpolates_the_product(decay: float, epoch: int, frac: float) -> None:
    exact = compounding_rate(1.0, decay, epoch)
    # one epoch on: exactly one more factor 1/(1 + decay * (epoch + 1))
    assert compounding_rate(1.0, decay, epoch + 1) == pytest.approx(
        exact / (1 + decay * (epoch + 1)), rel=1e-9
    )
    # the Gamma form near an integer agrees with the exact product there, and is monotone
    near = compounding_rate(1.0, decay, epoch + 1e-9)
    assert near == pytest.approx(exact, rel=1e-6)
    between = compounding_rate(1.0, decay, epoch + frac)
    assert compounding_rate(1.0, decay, epoch + 1) <= between <= exact


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1.0, 0.1, 1), "lr must be a finite number >= 0; got -1.0"),
        ((0.5, math.nan, 1), "decay must be a finite number >= 0; got nan"),
        ((0.5, 0.1, -2), "epoch must be a finite number >= 0; got -2"),
    ],
)
def test_bad_arguments_name_the_parameter(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        compounding_rate(*args)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; got 0"):
        compounding_spec(0.5, 0.1, 0)
