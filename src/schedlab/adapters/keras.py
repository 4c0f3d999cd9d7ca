"""Keras 3 adapter: a schedlab schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

Keras calls a ``LearningRateSchedule`` with the optimizer's iteration counter, once per optimizer
step (batch), never per epoch.  :class:`KerasSchedule` therefore takes ``unit``: with
``unit="epoch"`` and ``steps_per_epoch`` a schedule written in epochs is evaluated at
``floor(step / steps_per_epoch)``, so it behaves as written (constant within an epoch).

Evaluation: when the step is a concrete tensor (the torch backend, which is eager, or any backend
outside ``jit``), the rate is computed on the host in float64 by ``Schedule.__call__`` and handed
to Keras as a ``floatx`` tensor; when it is a JAX tracer (the jax backend under ``jit``), the
schedule is traced with ``jax.numpy`` exactly as :func:`schedlab.adapters.optax.to_optax` does.
TensorFlow graphs are not supported.

The callbacks (:class:`LearningRateLogger`, :class:`ScheduleCallback`, :class:`PlateauCallback`)
and :func:`from_keras` are re-exported here.  Import this module before ``keras.models.load_model``
so that the ``schedlab>KerasSchedule`` class is registered.
"""

from __future__ import annotations

import sys
from typing import Any

import keras

from schedlab.adapters.interop_keras import from_keras
from schedlab.adapters.keras_callbacks import LearningRateLogger, PlateauCallback, ScheduleCallback
from schedlab.adapters.units import Unit, check_unit
from schedlab.schedules import Schedule, from_spec

__all__ = [
    "KerasSchedule",
    "LearningRateLogger",
    "PlateauCallback",
    "ScheduleCallback",
    "from_keras",
]


def _is_jax_tracer(value: Any) -> bool:
    jax = sys.modules.get("jax")  # a tracer exists only if jax was imported
    return jax is not None and isinstance(value, jax.core.Tracer)


@keras.saving.register_keras_serializable(package="schedlab")
class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Drive a Keras optimizer's learning rate with a schedlab schedule.

    Args:
        schedule: a :class:`~schedlab.Schedule` or anything :func:`schedlab.from_spec` accepts.
        steps_per_epoch: optimizer steps (batches) per epoch; required with ``unit="epoch"`` only.
        unit: what the schedule's ``t`` counts. ``"step"``: ``lr = schedule(iterations)``.
            ``"epoch"``: ``lr = schedule(iterations // steps_per_epoch)``.

    ``get_config`` stores the schedule's spec, so ``model.save``/``keras.models.load_model`` keep
    it.

    >>> import keras, schedlab
    >>> lr = KerasSchedule(schedlab.step(lr=0.1, step_size=30), steps_per_epoch=100, unit="epoch")
    >>> optimizer = keras.optimizers.SGD(learning_rate=lr)
    >>> round(float(lr(3000)), 6)
    0.01
    """

    def __init__(
        self, schedule: Any, steps_per_epoch: int | None = None, unit: Unit = "step"
    ) -> None:
        super().__init__()
        self.schedule: Schedule = from_spec(schedule)
        self.steps_per_epoch = check_unit("KerasSchedule", unit, steps_per_epoch, counter="step")
        self.unit = unit

    def __call__(self, step: Any) -> Any:
        """The rate at optimizer iteration ``step`` (a backend tensor, an int or an array of them)."""
        if not _is_jax_tracer(step):
            step = keras.ops.convert_to_tensor(step)
        if _is_jax_tracer(step):
            from schedlab.adapters.optax import to_optax

            return to_optax(self.schedule, self.steps_per_epoch, self.unit)(step)
        t = keras.ops.convert_to_numpy(step)  # exact integer steps, on the host
        if self.steps_per_epoch is not None:
            t = t // self.steps_per_epoch
        return keras.ops.convert_to_tensor(self.schedule(t), dtype=keras.config.floatx())

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule.spec(),
            "steps_per_epoch": self.steps_per_epoch,
            "unit": self.unit,
        }

    def __repr__(self) -> str:
        return (
            f"KerasSchedule({self.schedule!r}, steps_per_epoch={self.steps_per_epoch!r}, "
            f"unit={self.unit!r})"
        )
