"""Convert Keras 3 learning-rate schedules (objects or serialized configs) to schedlab schedules.

The result is written in Keras' own unit, optimizer iterations.  A config dict is read without
importing Keras; a schedule object needs Keras only to check its class.

============================== ==========================================================
Keras                          schedlab
============================== ==========================================================
``ExponentialDecay``           ``exponential(lr, gamma=decay_rate, every=decay_steps, staircase)``
``InverseTimeDecay``           ``inverse_time(lr, decay_rate, every=decay_steps, staircase)``
``PolynomialDecay``            ``polynomial(lr, steps=decay_steps, power, end_lr, cycle)``
``CosineDecay``                ``cosine(lr, steps=decay_steps, min_lr=alpha*lr)``, inside
                               ``warmup(..., steps=warmup_steps, start_lr=initial)`` when
                               ``warmup_target`` is set (``lr = warmup_target`` then)
``CosineDecayRestarts``        ``cosine_restarts(lr, period=first_decay_steps, t_mult=t_mul,
                               m_mul, min_lr=alpha*lr)``
``PiecewiseConstantDecay``     ``piecewise_constant(boundaries, values)``
``schedlab>KerasSchedule``     its schedule (``unit="step"`` only)
============================== ==========================================================
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from schedlab.errors import ConfigError
from schedlab.schedules import (
    Schedule,
    cosine,
    cosine_restarts,
    exponential,
    from_spec,
    inverse_time,
    piecewise_constant,
    polynomial,
    warmup,
)

__all__ = ["from_keras"]


def _steps(name: str, value: Any) -> Any:
    """Keras accepts float step counts; schedlab's are integers: keep integral floats exactly."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        raise ConfigError(
            f"{name} must be a whole number of steps (no schedlab equivalent), got {value!r}"
        )
    return value


def _exponential_decay(
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    every = _steps("decay_steps", decay_steps)
    return exponential(initial_learning_rate, gamma=decay_rate, every=every, staircase=staircase)


def _inverse_time_decay(
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    every = _steps("decay_steps", decay_steps)
    return inverse_time(initial_learning_rate, decay_rate, every=every, staircase=staircase)


def _polynomial_decay(
    initial_learning_rate: float,
    decay_steps: int,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
    name: str | None = None,
) -> Schedule:
    steps = _steps("decay_steps", decay_steps)
    return polynomial(
        initial_learning_rate, steps, power=power, end_lr=end_learning_rate, cycle=cycle
    )


def _cosine_decay(
    initial_learning_rate: float,
    decay_steps: int,
    alpha: float = 0.0,
    name: str | None = None,
    warmup_target: float | None = None,
    warmup_steps: int = 0,
) -> Schedule:
    steps = _steps("decay_steps", decay_steps)
    if warmup_target is None:  # Keras ignores warmup_steps then
        return cosine(initial_learning_rate, steps, min_lr=alpha * initial_learning_rate)
    decay = cosine(warmup_target, steps, min_lr=alpha * warmup_target)
    ramp = _steps("warmup_steps", warmup_steps)
    return warmup(decay, ramp, start_lr=initial_learning_rate) if ramp else decay


def _cosine_decay_restarts(
    initial_learning_rate: float,
    first_decay_steps: int,
    t_mul: float = 2.0,
    m_mul: float = 1.0,
    alpha: float = 0.0,
    name: str | None = None,
) -> Schedule:
    period = _steps("first_decay_steps", first_decay_steps)
    return cosine_restarts(
        initial_learning_rate,
        period,
        t_mult=t_mul,
        m_mul=m_mul,
        min_lr=alpha * initial_learning_rate,
    )


def _piecewise_constant_decay(boundaries: list, values: list, name: str | None = None) -> Schedule:
    return piecewise_constant(list(boundaries), list(values))


def _keras_schedule(
    schedule: Any, steps_per_epoch: int | None = None, unit: str = "step"
) -> Schedule:
    if unit != "step":
        raise ConfigError(
            f"unit={unit!r} has no step-wise schedlab equivalent (the rate is held for "
            f"{steps_per_epoch!r} steps per epoch); its .schedule is written in epochs"
        )
    return from_spec(schedule)


_CONVERTERS: dict[str, Callable[..., Schedule]] = {
    "ExponentialDecay": _exponential_decay,
    "InverseTimeDecay": _inverse_time_decay,
    "PolynomialDecay": _polynomial_decay,
    "CosineDecay": _cosine_decay,
    "CosineDecayRestarts": _cosine_decay_restarts,
    "PiecewiseConstantDecay": _piecewise_constant_decay,
    "KerasSchedule": _keras_schedule,
}


def _is_keras_schedule(obj: Any) -> bool:
    """Whether ``obj`` is schedlab's own ``KerasSchedule`` (known by its class, without importing
    :mod:`schedlab.adapters.keras`, which re-exports this module's ``from_keras``)."""
    cls = type(obj)
    return cls.__name__ == "KerasSchedule" and cls.__module__ == "schedlab.adapters.keras"


def _no_equivalent(what: Any) -> ConfigError:
    return ConfigError(
        f"from_keras: no schedlab equivalent for Keras schedule {what!r}; supported: "
        f"{', '.join(_CONVERTERS)}"
    )


def _unpack(obj: Any) -> tuple[str, Mapping[str, Any]]:
    """``(class name, config)`` of a Keras schedule object or of its serialized dict."""
    if isinstance(obj, Mapping):
        if "class_name" not in obj or not isinstance(obj.get("config"), Mapping):
            raise ConfigError(
                "from_keras: a config dict must have 'class_name' and 'config' keys (as returned "
                "by keras.optimizers.schedules.serialize or found in an optimizer's config), got "
                f"keys {sorted(map(str, obj))}"
            )
        name = str(obj["class_name"])
        registered = obj.get("registered_name")  # set for custom (registered) classes only
        if registered not in (None, name, "schedlab>KerasSchedule"):
            raise _no_equivalent(registered)
        return name, obj["config"]
    import keras

    if _is_keras_schedule(obj):
        return "KerasSchedule", obj.get_config()
    name = type(obj).__name__
    builtin = getattr(keras.optimizers.schedules, name, None)
    if builtin is None or type(obj) is not builtin:  # subclasses may override __call__
        if isinstance(obj, keras.optimizers.schedules.LearningRateSchedule):
            raise _no_equivalent(type(obj).__qualname__)
        raise ConfigError(
            "from_keras: schedule_or_config must be a keras.optimizers.schedules."
            f"LearningRateSchedule or its serialized config dict, got {obj!r}"
        )
    return name, obj.get_config()


def from_keras(schedule_or_config: Any) -> Schedule:
    """The schedlab schedule equal to a Keras 3 learning-rate schedule, in optimizer steps.

    ``schedule_or_config`` is a Keras schedule object (``ExponentialDecay``, ``InverseTimeDecay``,
    ``PolynomialDecay``, ``CosineDecay`` with or without warmup, ``CosineDecayRestarts``,
    ``PiecewiseConstantDecay``, or a :class:`~schedlab.adapters.keras.KerasSchedule`), or its
    serialized dict ``{"class_name": ..., "config": {...}}`` (``keras.optimizers.schedules.serialize``;
    ``optimizer.get_config()["learning_rate"]``).  Anything else raises ``ConfigError`` naming what
    has no equivalent (a :class:`~schedlab.errors.ConfigError`).  Values agree with Keras evaluated in float64 (see the module table).

    >>> from_keras({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
    ...     "decay_steps": 10, "decay_rate": 0.5}})
    exponential(lr=0.1, gamma=0.5, every=10, staircase=False)
    """
    name, config = _unpack(schedule_or_config)
    convert = _CONVERTERS.get(name)
    if convert is None:
        raise _no_equivalent(name)
    params = inspect.signature(convert).parameters
    unknown = sorted(set(map(str, config)) - set(params))
    if unknown:
        raise ConfigError(
            f"from_keras: {name} has no schedlab equivalent for {', '.join(map(repr, unknown))}; "
            f"known config keys: {', '.join(params)}"
        )
    missing = [
        k for k, v in params.items() if v.default is inspect.Parameter.empty and k not in config
    ]
    if missing:
        raise ConfigError(f"from_keras: {name} config is missing {', '.join(map(repr, missing))}")
    try:
        return convert(**config)
    except ValueError as err:  # SpecError, or a plain ValueError of the schedule layer
        raise ConfigError(f"from_keras: {name}: {err}") from None
