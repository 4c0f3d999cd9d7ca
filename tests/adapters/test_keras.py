"""The Keras 3 adapter (torch backend): KerasSchedule and the callbacks, in real model.fit runs.

The rate a step *applied* is measured, not read back from the optimizer: a probe model
``y = w * x`` with ``x = 1`` and loss ``mean(|y - y_true|)`` (``y_true`` far below) has gradient
exactly 1, and ``w`` is reset to 0 before every step, so after the step ``w == -lr`` (float32).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

import schedlab  # noqa: E402
from schedlab.adapters.keras import (  # noqa: E402
    KerasSchedule,
    LearningRateLogger,
    PlateauCallback,
    ScheduleCallback,
)
from schedlab.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
F32 = {"rtol": 1e-6, "atol": 1e-9}  # the optimizer works in float32


class AppliedRates(keras.callbacks.Callback):
    """Record the learning rate each optimizer step applied to the probe model."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.model.layers[0].kernel.assign(np.zeros((1, 1), dtype="float32"))

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(-float(keras.ops.convert_to_numpy(self.model.layers[0].kernel)[0, 0]))


def probe_model(learning_rate) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mae")
    return model


def fit_probe(model, epochs, steps_per_epoch=4, callbacks=(), initial_epoch=0):
    """Fit ``steps_per_epoch`` batches per epoch; return (applied rates, history)."""
    applied = AppliedRates()
    x = np.ones((4 * steps_per_epoch, 1), dtype="float32")
    y = np.full((4 * steps_per_epoch, 1), -1e6, dtype="float32")
    history = model.fit(
        x, y, batch_size=4, epochs=epochs, initial_epoch=initial_epoch, shuffle=False,
        callbacks=[applied, *callbacks], verbose=0,
    )  # fmt: skip
    return np.array(applied.rates), history


# --- KerasSchedule --------------------------------------------------------------------------------

SPECS = [
    "warmup(cosine(0.1, 30, 0.001), 6)",
    "one_cycle(0.2, 36)",
    "cyclic(0.01, 0.1, 5, 7, 'triangular2')",
    "piecewise_constant([7, 20], [0.1, 0.03, 0.001])",
]


@pytest.mark.parametrize("spec", SPECS)
def test_fit_applies_the_schedule_per_step(spec):
    s = schedlab.from_spec(spec)
    applied, _ = fit_probe(probe_model(KerasSchedule(s)), epochs=9)
    np.testing.assert_allclose(applied, s(np.arange(36)), **F32)


def test_epoch_unit_behaves_as_written():
    """A spec written in epochs, applied per batch: with unit="epoch" the rate is constant within an
    epoch and equals schedule(epoch); without it, it decays steps_per_epoch times too fast."""
    s = schedlab.step(lr=0.1, step_size=2, gamma=0.5)  # halve every 2 epochs
    applied, _ = fit_probe(probe_model(KerasSchedule(s, steps_per_epoch=4, unit="epoch")), epochs=5)
    np.testing.assert_allclose(applied, np.repeat(s(np.arange(5)), 4), **F32)
    assert applied[8] == pytest.approx(0.05) and applied[7] == pytest.approx(0.1)

    wrong, _ = fit_probe(probe_model(KerasSchedule(s)), epochs=5)
    assert wrong[8] == pytest.approx(0.1 * 0.5**4)  # the pitfall: 4 halvings by epoch 2


def test_save_and_load_keep_the_schedule(tmp_path):
    s = schedlab.from_spec("warmup(exponential(0.1, 0.9, 2), 3)")
    model = probe_model(KerasSchedule(s, steps_per_epoch=4, unit="epoch"))
    fit_probe(model, epochs=2)
    model.save(tmp_path / "probe.keras")
    loaded = keras.models.load_model(tmp_path / "probe.keras")

    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, KerasSchedule)
    assert (schedule.schedule, schedule.steps_per_epoch, schedule.unit) == (s, 4, "epoch")
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 8
    assert float(keras.ops.convert_to_numpy(loaded.optimizer.learning_rate)) == pytest.approx(
        s(2), rel=1e-6
    )
    # Training goes on where it stopped, with the same rates as the original model.
    resumed, _ = fit_probe(loaded, epochs=5, initial_epoch=2)
    original, _ = fit_probe(model, epochs=5, initial_epoch=2)
    np.testing.assert_array_equal(resumed, original)
    np.testing.assert_allclose(resumed, np.repeat(s(np.arange(2, 5)), 4), **F32)


def test_config_round_trip():
    ks = KerasSchedule("cosine(0.1, 100)", steps_per_epoch=np.int64(10), unit="epoch")
    config = ks.get_config()
    assert config == {
        "schedule": {"kind": "cosine", "lr": 0.1, "steps": 100, "min_lr": 0.0},
        "steps_per_epoch": 10,
        "unit": "epoch",
    }
    serialized = json.loads(json.dumps(keras.optimizers.schedules.serialize(ks)))
    assert serialized["registered_name"] == "schedlab>KerasSchedule"
    again = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(again, KerasSchedule) and again.get_config() == config
    assert (
        repr(again)
        == "KerasSchedule(cosine(lr=0.1, steps=100, min_lr=0.0), steps_per_epoch=10, unit='epoch')"
    )


def test_rate_is_computed_in_float64_then_cast_to_floatx():
    s = schedlab.cosine(1.0, 10**8)
    value = KerasSchedule(s)(keras.ops.convert_to_tensor(10**8 - 1))
    assert keras.backend.standardize_dtype(value.dtype) == keras.config.floatx()
    # float32 steps cannot tell 10**8 - 1 from 10**8 (where the value is 0): the host can.
    assert float(keras.ops.convert_to_numpy(value)) == pytest.approx(s(10**8 - 1), rel=1e-6)
    assert s(10**8 - 1) > 0


def test_vector_of_steps_and_invalid_steps():
    s = schedlab.from_spec("cosine(0.1, 40)")
    ks = KerasSchedule(s, steps_per_epoch=4, unit="epoch")
    values = keras.ops.convert_to_numpy(ks(np.arange(200)))
    np.testing.assert_allclose(values, s(np.arange(200) // 4), **F32)
    with pytest.raises(ValueError, match=r"step must be a finite number >= 0, got .*-1"):
        ks(-1)


def test_traced_step_under_jax_jit():
    """The path the jax backend takes inside its jitted train step: traced with jax.numpy."""
    jax = pytest.importorskip("jax")
    s = schedlab.from_spec("warmup(cosine(0.1, 30), 5)")
    ks = KerasSchedule(s, steps_per_epoch=3, unit="epoch")
    rates = jax.jit(jax.vmap(ks))(jax.numpy.arange(120))
    np.testing.assert_allclose(np.asarray(rates), s(np.arange(120) // 3), **F32)


JAX_BACKEND_FIT = """
import numpy as np, keras, schedlab
from schedlab.adapters.keras import KerasSchedule, LearningRateLogger
assert keras.backend.backend() == "jax"
s = schedlab.from_spec("warmup(step(0.1, 2, 0.5), 1, 0.01)")
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
model.layers[0].kernel.assign(np.zeros((1, 1), "float32"))
model.compile(keras.optimizers.SGD(KerasSchedule(s, steps_per_epoch=4, unit="epoch")), loss="mae")
history = model.fit(np.ones((16, 1), "float32"), np.full((16, 1), -1e6, "float32"), batch_size=4,
                    epochs=5, callbacks=[LearningRateLogger()], verbose=0, shuffle=False)
np.testing.assert_allclose(history.history["lr"], s(np.arange(5)), rtol=1e-6)
# Gradient 1 per step: the weight moved by the sum of the rates the jitted steps applied.
total = -float(keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0])
np.testing.assert_allclose(total, 4 * s(np.arange(5)).sum(), rtol=1e-6)
"""


def test_jax_backend_fit_traces_the_schedule():
    """A real model.fit on the jax backend (jitted train step): the traced path gives the rates."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", JAX_BACKEND_FIT], check=True, env=env, timeout=300)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "batch"}, "KerasSchedule: unit must be one of 'step', 'epoch', got 'batch'"),
        ({"unit": "epoch"}, "KerasSchedule: steps_per_epoch must be a positive integer with unit="),
        ({"unit": "epoch", "steps_per_epoch": 2.5}, "got 2.5"),
        ({"steps_per_epoch": 100}, "steps_per_epoch is only used with unit='epoch'"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KerasSchedule("cosine(0.1, 10)", **kwargs)
    with pytest.raises(ValueError, match="unknown schedule kind 'cosin'"):
        KerasSchedule("cosin(0.1, 10)")


# --- LearningRateLogger -----------------------------------------------------------------------------


def random_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=48)).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    return model, x, y


def test_logger_records_each_epochs_rate_in_history():
    s = schedlab.from_spec("warmup(cosine(0.1, 30), 6)")
    model, x, y = random_regression()
    model.compile(optimizer=keras.optimizers.SGD(KerasSchedule(s)), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=5, callbacks=[LearningRateLogger()], verbose=0)
    # 6 steps per epoch; epoch e logs the rate of its first step, 6 * e.
    np.testing.assert_allclose(history.history["lr"], s(6 * np.arange(5)), **F32)
    assert len(history.history["loss"]) == 5


def test_logger_step_rates_are_the_applied_rates():
    s = schedlab.from_spec("cyclic(0.01, 0.1, 3)")
    logger = LearningRateLogger(key="learning_rate", steps=True)
    applied, history = fit_probe(probe_model(KerasSchedule(s)), epochs=3, callbacks=[logger])
    np.testing.assert_allclose(logger.step_rates, applied, **F32)
    np.testing.assert_allclose(history.history["learning_rate"], applied[::4], **F32)


def test_logger_with_a_constant_rate_and_bad_arguments():
    _, history = fit_probe(probe_model(0.05), epochs=2, callbacks=[LearningRateLogger()])
    np.testing.assert_allclose(history.history["lr"], [0.05, 0.05], **F32)
    with pytest.raises(ValueError, match="key must be a non-empty string, got ''"):
        LearningRateLogger(key="")
    with pytest.raises(ValueError, match="steps must be True or False, got 1"):
        LearningRateLogger(steps=1)


# --- ScheduleCallback -------------------------------------------------------------------------------


def test_schedule_callback_matches_keras_learning_rate_scheduler():
    s = schedlab.from_spec("step(0.1, 2, 0.5)")
    ours, _ = fit_probe(probe_model(1.0), epochs=5, callbacks=[ScheduleCallback(s)])
    reference = keras.callbacks.LearningRateScheduler(lambda epoch: s(epoch))
    theirs, _ = fit_probe(probe_model(1.0), epochs=5, callbacks=[reference])
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(ours, np.repeat(s(np.arange(5)), 4), **F32)


def test_schedule_callback_resumes_without_compounding():
    s = schedlab.from_spec("exponential(0.1, 0.5)")
    full, _ = fit_probe(probe_model(1.0), epochs=4, callbacks=[ScheduleCallback(s)])
    model = probe_model(1.0)
    first, _ = fit_probe(model, epochs=2, callbacks=[ScheduleCallback(s)])
    rest, _ = fit_probe(model, epochs=4, initial_epoch=2, callbacks=[ScheduleCallback(s)])
    np.testing.assert_array_equal(np.concatenate([first, rest]), full)


def test_schedule_callback_step_unit():
    s = schedlab.from_spec("linear(0.1, 0.0, 20)")  # written in optimizer steps
    callback = ScheduleCallback(s, steps_per_epoch=4, unit="step")
    applied, _ = fit_probe(probe_model(1.0), epochs=4, callbacks=[callback])
    np.testing.assert_allclose(applied, np.repeat(s(4 * np.arange(4)), 4), **F32)
    assert callback.rate(3) == s(12)


def test_schedule_callback_needs_a_settable_rate():
    model = probe_model(KerasSchedule("constant(0.1)"))
    with pytest.raises(ValueError, match="ScheduleCallback: the optimizer's learning_rate must be"):
        fit_probe(model, epochs=1, callbacks=[ScheduleCallback("constant(0.1)")])
    with pytest.raises(
        ValueError, match="ScheduleCallback: steps_per_epoch is only used with unit"
    ):
        ScheduleCallback("constant(0.1)", steps_per_epoch=4)


# --- PlateauCallback --------------------------------------------------------------------------------


def test_plateau_callback_matches_torch_reduce_on_plateau():
    """Real fit on random data; the rate of every epoch equals what torch's ReduceLROnPlateau
    gives for the same validation losses."""
    model, x, y = random_regression()
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    plateau = schedlab.Plateau(0.05, patience=0, factor=0.5, threshold=0.1)
    history = model.fit(
        x[:32], y[:32], validation_data=(x[32:], y[32:]), batch_size=8, epochs=8, verbose=0,
        callbacks=[PlateauCallback(plateau), LearningRateLogger()],
    )  # fmt: skip
    val_losses = history.history["val_loss"]

    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.05)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, patience=0, factor=0.5, threshold=0.1
    )
    want = []
    for v in val_losses:
        want.append(optimizer.param_groups[0]["lr"])
        reference.step(v)
    np.testing.assert_allclose(history.history["lr"], want, **F32)
    assert min(want) < 0.05  # reductions happened
    assert plateau.lr == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(
        plateau.lr, rel=1e-6
    )


class Scores(keras.callbacks.Callback):
    """Log ``scores[epoch]`` as ``"score"`` (listed before the PlateauCallback, which reads it)."""

    def __init__(self, scores) -> None:
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


def reference_plateau_rates(lr, scores, **kw):
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kw)
    out = []
    for score in scores:
        out.append(optimizer.param_groups[0]["lr"])
        reference.step(score)
    return out


def test_plateau_callback_non_finite_metric_counts_as_no_improvement():
    """A real fit whose monitored metric is NaN in some epochs: each NaN is a bad epoch (as in
    torch's ReduceLROnPlateau) and warns, saying what it did to the rate."""
    scores = [1.0, math.nan, 0.5, math.nan, math.nan, 0.5]
    callback = PlateauCallback(schedlab.Plateau(0.1, patience=1, factor=0.5), monitor="score")
    with pytest.warns(RuntimeWarning, match="counted as no improvement") as caught:
        applied, _ = fit_probe(probe_model(1.0), epochs=6, callbacks=[Scores(scores), callback])
    want = reference_plateau_rates(0.1, scores, patience=1, factor=0.5)
    np.testing.assert_allclose(applied[::4], want, **F32)
    assert want[-1] == 0.05  # the two NaN epochs in a row lowered the rate
    assert any("reduced from 0.1 to 0.05" in str(w.message) for w in caught)


def test_plateau_callback_per_step_warmup():
    """The warmup advances after every batch; the rates applied are the ramp, then the plateau."""
    plateau = schedlab.Plateau(0.05, patience=0, factor=0.5, warmup_steps=6, warmup_unit="step")
    callback = PlateauCallback(plateau, monitor="loss")  # the probe's loss never improves
    applied, _ = fit_probe(probe_model(1.0), epochs=4, callbacks=[callback])
    ramp = schedlab.linear(0.0, 0.05, steps=6)(np.arange(6))
    np.testing.assert_allclose(applied, [*ramp, 0.05, 0.05, *[0.025] * 4, *[0.0125] * 4], **F32)


def test_plateau_callback_checkpoint_recipe(tmp_path):
    """The documented recipe: save ``plateau.state_dict()`` as JSON with the model, resume with
    ``Plateau.from_state_dict`` and ``initial_epoch``: the same rates as an uninterrupted run."""
    scores = [3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]
    spec = "plateau(lr=0.1, patience=1, factor=0.5, warmup_steps=3, warmup_unit='step')"
    whole, _ = fit_probe(
        probe_model(1.0), epochs=8, callbacks=[Scores(scores), PlateauCallback(spec, "score")]
    )

    class SavePlateau(keras.callbacks.Callback):
        def __init__(self, plateau) -> None:
            super().__init__()
            self.plateau = plateau

        def on_epoch_end(self, epoch, logs=None):
            (tmp_path / "plateau.json").write_text(json.dumps(self.plateau.state_dict()))

    model = probe_model(1.0)
    callback = PlateauCallback(spec, "score")
    first, _ = fit_probe(
        model, epochs=3, callbacks=[Scores(scores), callback, SavePlateau(callback.plateau)]
    )
    model.save(tmp_path / "model.keras")
    model = keras.models.load_model(tmp_path / "model.keras")
    restored = schedlab.Plateau.from_state_dict(json.loads((tmp_path / "plateau.json").read_text()))
    rest, _ = fit_probe(
        model,
        epochs=8,
        initial_epoch=3,
        callbacks=[Scores(scores), PlateauCallback(restored, "score")],
    )
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)
    assert min(whole) < 0.1 and whole[0] == 0.0


def test_callbacks_repr_and_specs():
    callback = PlateauCallback("plateau(lr=0.1, patience=2)", monitor="loss")
    assert isinstance(callback.plateau, schedlab.Plateau)
    assert repr(callback).startswith("PlateauCallback(plateau(lr=0.1, mode='min'")
    assert repr(callback).endswith("monitor='loss')")
    assert repr(ScheduleCallback("step(0.1, 3)")) == (
        "ScheduleCallback(step(lr=0.1, step_size=3, gamma=0.1), unit='epoch')"
    )
    assert repr(LearningRateLogger()) == "LearningRateLogger(key='lr', steps=False)"
    assert repr(KerasSchedule("cosine(0.1, 10)")) == (
        "KerasSchedule(cosine(lr=0.1, steps=10, min_lr=0.0), steps_per_epoch=None, unit='step')"
    )
    with pytest.raises(ConfigError, match=r"plateau must be a schedlab\.Plateau or a plateau spec"):
        PlateauCallback("cosine(0.1, 10)")


def test_plateau_callback_errors():
    with pytest.raises(ValueError, match=r"logged this epoch \(loss\), got 'val_loss'"):
        fit_probe(probe_model(1.0), epochs=1, callbacks=[PlateauCallback(schedlab.Plateau(0.1))])
    with pytest.raises(ValueError, match=r"plateau must be a schedlab\.Plateau"):
        PlateauCallback(0.1)
    with pytest.raises(ValueError, match="monitor must be a metric name"):
        PlateauCallback(schedlab.Plateau(0.1), monitor=None)
