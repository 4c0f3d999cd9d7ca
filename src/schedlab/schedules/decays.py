"""Monotone decays: constant, step, multistep, exponential, inverse-time, polynomial, linear and
cosine.  ``t`` is in whatever unit the caller advances (steps or epochs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schedlab.schedules.base import Evaluator, schedule_kind
from schedlab.schedules.params import Factor, Flag, FloorRate, Milestones, Positive, Rate, Steps
from schedlab.schedules.shapes import ceil_div, floor_div, half_cosine, lerp


def _steps(params: Mapping[str, Any]) -> int:
    return params["steps"]


def _last_milestone(params: Mapping[str, Any]) -> int | None:
    return params["milestones"][-1] if params["milestones"] else None


def _decay_exponent(every: int, staircase: bool) -> Evaluator:
    if staircase:
        return lambda t, xp: floor_div(t, every, xp)
    return lambda t, xp: t / every


def _geometric(lr: float, gamma: float, exponent: Evaluator) -> Evaluator:
    """``lr * gamma**exponent(t)``; exactly 0 when ``lr`` is 0 (never ``0 * inf`` once a
    ``gamma > 1`` power overflows)."""
    if lr == 0:
        return lambda t, xp: xp.zeros_like(t)
    return lambda t, xp: lr * gamma ** exponent(t, xp)


@schedule_kind
def constant(lr: Rate) -> Evaluator:
    """The same rate at every step: ``lr``.

    >>> constant(0.1)(5)
    0.1
    """
    return lambda t, xp: xp.zeros_like(t) + lr


@schedule_kind
def step(lr: Rate, step_size: Steps, gamma: Positive = 0.1) -> Evaluator:
    """Decay by ``gamma`` every ``step_size`` steps: ``lr * gamma**floor(t / step_size)``.

    PyTorch ``StepLR`` (closed form; PyTorch multiplies step by step).

    >>> [step(1.0, step_size=2, gamma=0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return _geometric(lr, gamma, lambda t, xp: floor_div(t, step_size, xp))


@schedule_kind(horizon=_last_milestone)
def multistep(lr: Rate, milestones: Milestones, gamma: Positive = 0.1) -> Evaluator:
    """Decay by ``gamma`` at each milestone: ``lr * gamma**(number of milestones <= t)``.

    PyTorch ``MultiStepLR``; milestones are integer steps, strictly increasing.

    >>> s = multistep(1.0, milestones=[2, 4], gamma=0.1)
    >>> [round(s(t), 12) for t in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    edges = list(milestones)

    def passed(t: Any, xp: Any) -> Any:
        return xp.searchsorted(xp.asarray(edges, dtype=t.dtype), t, side="right")

    return _geometric(lr, gamma, passed)


@schedule_kind
def exponential(lr: Rate, gamma: Positive, every: Steps = 1, staircase: Flag = False) -> Evaluator:
    """Exponential decay: ``lr * gamma**(t / every)`` (``floor(t / every)`` with ``staircase``).

    Keras ``ExponentialDecay(lr, decay_steps=every, decay_rate=gamma, staircase)``; with
    ``every=1`` PyTorch ``ExponentialLR``.

    >>> round(exponential(1.0, gamma=0.5, every=2)(3), 12)
    0.353553390593
    """
    return _geometric(lr, gamma, _decay_exponent(every, staircase))


@schedule_kind
def inverse_time(
    lr: Rate, decay_rate: Factor, every: Steps = 1, staircase: Flag = False
) -> Evaluator:
    """Time-based decay: ``lr / (1 + decay_rate * t / every)`` (floor of ``t / every`` with staircase).

    Keras ``InverseTimeDecay``.  This is the closed form; Keras' ``LearningRateScheduler`` callbacks
    that divide the *current* rate every epoch compound instead.

    >>> inverse_time(1.0, decay_rate=1.0)(3)
    0.25
    """
    exponent = _decay_exponent(every, staircase)
    return lambda t, xp: lr / (1 + decay_rate * exponent(t, xp))


@schedule_kind(horizon=lambda q: None if q["cycle"] else q["steps"])
def polynomial(
    lr: Rate, steps: Steps, power: Positive = 1.0, end_lr: FloorRate = 0.0, cycle: Flag = False
) -> Evaluator:
    """Polynomial decay: ``(lr - end_lr) * (1 - min(t, steps) / steps)**power + end_lr``.

    Keras ``PolynomialDecay`` semantics.  With ``cycle`` the horizon becomes
    ``steps * ceil(t / steps)`` (``steps`` at ``t = 0``) and the decay restarts from ``lr``.

    >>> polynomial(1.0, steps=4, power=2.0)(2)
    0.25
    """

    def evaluate(t: Any, xp: Any) -> Any:
        if cycle:
            horizon = steps * xp.maximum(ceil_div(t, steps, xp), 1.0)
            done = t
        else:
            horizon = steps
            done = xp.minimum(t, steps)
        return (lr - end_lr) * ((horizon - done) / horizon) ** power + end_lr

    return evaluate


@schedule_kind(horizon=_steps)
def linear(start_lr: Rate, end_lr: FloorRate, steps: Steps) -> Evaluator:
    """Straight line from ``start_lr`` (t = 0) to ``end_lr`` (t = steps), then ``end_lr``.

    PyTorch ``LinearLR`` with ``start_factor = start_lr / base``, ``end_factor = end_lr / base``.

    >>> linear(0.0, 1.0, steps=4)(1)
    0.25
    """

    def evaluate(t: Any, xp: Any) -> Any:
        done = xp.minimum(t, steps)
        return lerp(start_lr, end_lr, done, steps - done, steps)

    return evaluate


@schedule_kind(horizon=_steps)
def cosine(lr: Rate, steps: Steps, min_lr: FloorRate = 0.0) -> Evaluator:
    """Cosine annealing: ``min_lr + (lr - min_lr) * (1 + cos(pi * min(t, steps) / steps)) / 2``.

    Held at ``min_lr`` after ``steps`` (as Keras ``CosineDecay``; PyTorch ``CosineAnnealingLR``
    would rise again, this contract holds the floor).  Loshchilov & Hutter, SGDR (2017).

    >>> round(cosine(1.0, steps=4)(2), 12)
    0.5
    """

    def evaluate(t: Any, xp: Any) -> Any:
        return min_lr + (lr - min_lr) * half_cosine(steps - xp.minimum(t, steps), steps, xp)

    return evaluate
