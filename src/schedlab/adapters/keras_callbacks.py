"""Keras 3 callbacks: log the learning rate, set it per epoch from a schedule or from a Plateau.

All three work with any backend in eager mode and read/write ``model.optimizer.learning_rate``.
A :class:`PlateauCallback` whose plateau warms up per optimizer step (``warmup_unit="step"``)
advances the warmup after every batch and sets the rate of the next one.
"""

from __future__ import annotations

from typing import Any

import keras

from schedlab.adapters.units import Unit, check_unit
from schedlab.errors import ConfigError
from schedlab.schedules import Schedule, from_spec
from schedlab.schedules.plateau import Plateau, policy_from_spec

__all__ = ["LearningRateLogger", "PlateauCallback", "ScheduleCallback"]


def _current_rate(optimizer: Any) -> float:
    """The rate the optimizer's next step will use (its schedule at ``iterations``, or its value)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _settable(owner: str, optimizer: Any) -> None:
    if not isinstance(optimizer.learning_rate, keras.Variable):
        raise ConfigError(
            f"{owner}: the optimizer's learning_rate must be a float (this callback sets it), got "
            f"{type(optimizer._learning_rate).__name__}; build it with e.g. SGD(learning_rate=0.1)"
        )


class LearningRateLogger(keras.callbacks.Callback):
    """Record the learning rate of each epoch into ``history.history[key]``.

    The value logged for epoch ``e`` is the rate of the epoch's *first* optimizer step, read from
    the optimizer just before that step, whatever drives it (a ``LearningRateSchedule``, a
    callback, a constant).  With ``steps=True`` the rate of every step is also appended to
    :attr:`step_rates` (one host read per batch).

    >>> logger = LearningRateLogger()
    >>> # history = model.fit(x, y, epochs=3, callbacks=[logger]); history.history["lr"]
    """

    def __init__(self, key: str = "lr", steps: bool = False) -> None:
        super().__init__()
        if not isinstance(key, str) or not key:
            raise ConfigError(f"LearningRateLogger: key must be a non-empty string, got {key!r}")
        if not isinstance(steps, bool):
            raise ConfigError(f"LearningRateLogger: steps must be True or False, got {steps!r}")
        self.key = key
        self.steps = steps
        self.step_rates: list[float] = []
        self._epoch_rate: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_rate = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._epoch_rate is None or self.steps:
            rate = _current_rate(self.model.optimizer)
            if self._epoch_rate is None:
                self._epoch_rate = rate
            if self.steps:
                self.step_rates.append(rate)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            rate = self._epoch_rate
            logs[self.key] = _current_rate(self.model.optimizer) if rate is None else rate

    def __repr__(self) -> str:
        return f"LearningRateLogger(key={self.key!r}, steps={self.steps!r})"


class ScheduleCallback(keras.callbacks.Callback):
    """Set the optimizer's rate at the start of every epoch from a schedlab schedule.

    Like ``keras.callbacks.LearningRateScheduler`` but from a spec and in closed form: the rate of
    epoch ``e`` is ``schedule(e)`` (``unit="epoch"``, the default) or
    ``schedule(e * steps_per_epoch)`` (``unit="step"``), never a function of the previous rate, so
    resuming with ``initial_epoch`` gives the same rates as an uninterrupted run.  The optimizer
    must have been built with a float learning rate.

    >>> import schedlab
    >>> callback = ScheduleCallback(schedlab.step(lr=0.1, step_size=30))
    """

    def __init__(
        self, schedule: Any, steps_per_epoch: int | None = None, unit: Unit = "epoch"
    ) -> None:
        super().__init__()
        self.schedule: Schedule = from_spec(schedule)
        self.steps_per_epoch = check_unit(
            "ScheduleCallback", unit, steps_per_epoch, counter="epoch"
        )
        self.unit = unit

    def rate(self, epoch: int) -> float:
        """The rate this callback sets for (0-based) ``epoch``."""
        per_epoch = self.steps_per_epoch
        return self.schedule(epoch if per_epoch is None else epoch * per_epoch)

    def on_train_begin(self, logs: dict | None = None) -> None:
        _settable("ScheduleCallback", self.model.optimizer)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate = self.rate(epoch)

    def __repr__(self) -> str:
        extra = f", steps_per_epoch={self.steps_per_epoch!r}" if self.steps_per_epoch else ""
        return f"ScheduleCallback({self.schedule!r}, unit={self.unit!r}{extra})"


class PlateauCallback(keras.callbacks.Callback):
    """Reduce the rate when a metric stops improving, with a :class:`schedlab.Plateau`.

    At the start of training the optimizer's rate is set to ``plateau.lr``; after every epoch
    ``plateau.update(logs[monitor])`` gives the rate for the next epoch (PyTorch
    ``ReduceLROnPlateau`` semantics).  A NaN/inf metric counts as no improvement (a bad epoch,
    which can reduce the rate once ``patience`` is exceeded) and warns; it never lowers the rate
    silently.  A warmup with ``warmup_unit="step"`` advances after every batch.  The plateau's
    state (``plateau.state_dict()``) is the callback's state.  The monitored metric must be logged
    every epoch (run validation every epoch to monitor ``val_loss``).

    Args:
        plateau: a :class:`schedlab.Plateau` (driven, not copied) or a plateau spec.
        monitor: the name of the logged metric (default ``"val_loss"``).
    """

    def __init__(self, plateau: Any, monitor: str = "val_loss") -> None:
        super().__init__()
        policy = policy_from_spec(plateau) if isinstance(plateau, (str, dict)) else plateau
        if not isinstance(policy, Plateau):
            raise ConfigError(
                f"PlateauCallback: plateau must be a schedlab.Plateau or a plateau spec, got "
                f"{plateau!r}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(
                f"PlateauCallback: monitor must be a metric name such as 'val_loss', got {monitor!r}"
            )
        self.plateau = policy
        self.monitor = monitor
        self._per_step = policy.spec()["warmup_unit"] == "step"

    def on_train_begin(self, logs: dict | None = None) -> None:
        _settable("PlateauCallback", self.model.optimizer)
        self.model.optimizer.learning_rate = float(self.plateau.lr)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._per_step and self.plateau.warming_up:
            self.model.optimizer.learning_rate = float(self.plateau.tick())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ConfigError(
                f"PlateauCallback: monitor must be one of the metrics logged this epoch "
                f"({', '.join(sorted(logs)) or 'none'}), got {self.monitor!r}"
            )
        self.model.optimizer.learning_rate = float(self.plateau.update(float(logs[self.monitor])))

    def __repr__(self) -> str:
        return f"PlateauCallback({self.plateau!r}, monitor={self.monitor!r})"
