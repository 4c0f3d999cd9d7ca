"""Schedules built around a warmup: warmup of any schedule, warmup-stable-decay, inverse sqrt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from schedlab.errors import SpecError
from schedlab.schedules import params as p
from schedlab.schedules.base import Evaluator, Schedule, schedule_kind
from schedlab.schedules.nested import ScheduleArg
from schedlab.schedules.params import Count, FloorRate, Rate, Steps
from schedlab.schedules.shapes import half_cosine, lerp


def _after_warmup(params: Mapping[str, Any]) -> float | None:
    inner = params["schedule"].horizon
    return None if inner is None else params["steps"] + inner


@schedule_kind(horizon=_after_warmup)
def warmup(
    schedule: ScheduleArg,
    steps: Count,
    start_lr: Rate = 0.0,
    shape: Annotated[str, p.choice("linear", "exponential", "constant")] = "linear",
) -> Evaluator:
    """Prepend a warmup of ``steps`` steps to ``schedule``.

    For ``t < steps`` the rate ramps from ``start_lr`` to ``target = schedule(0)``: ``linear``
    (``start_lr + (target - start_lr) * t / steps``), ``exponential``
    (``start_lr * (target / start_lr)**(t / steps)``, needs ``start_lr > 0``) or ``constant``
    (``start_lr``).  From ``t = steps`` on the value is ``schedule(t - steps)``, so the schedule
    starts unshifted after the warmup.  ``steps=0`` means no warmup.

    >>> s = warmup(constant(1.0), steps=4)
    >>> s(0), s(1), s(4)
    (0.0, 0.25, 1.0)
    """
    inner: Schedule = schedule
    target = inner(0)
    if shape == "exponential" and start_lr <= 0:
        raise p.fail("warmup", "start_lr", "> 0 with shape='exponential'", start_lr)
    if shape == "exponential" and target <= 0:
        raise SpecError("warmup: shape='exponential' needs schedule(0) > 0, got 0.0")
    if steps == 0:
        return inner.evaluate

    def ramp(t: Any, xp: Any) -> Any:
        if shape == "linear":
            return lerp(start_lr, target, t, steps - t, steps)
        if shape == "exponential":
            return start_lr * (target / start_lr) ** (t / steps)
        return xp.zeros_like(t) + start_lr

    def evaluate(t: Any, xp: Any) -> Any:
        after = inner.evaluate(xp.maximum(t - steps, 0.0), xp)
        return xp.where(t < steps, ramp(xp.minimum(t, steps), xp), after)

    return evaluate


@schedule_kind(horizon=lambda q: q["steps"])
def wsd(
    lr: Rate,
    steps: Steps,
    decay_steps: Count,
    warmup_steps: Count = 0,
    decay: Annotated[str, p.choice("linear", "cosine", "1-sqrt")] = "linear",
    min_lr: FloorRate = 0.0,
) -> Evaluator:
    """Warmup-stable-decay (Hägele et al. 2024), Hugging Face ``get_wsd_schedule`` semantics.

    Linear warmup from ``min_lr`` to ``lr`` over ``warmup_steps``, hold ``lr``, then decay to
    ``min_lr`` over the last ``decay_steps`` of ``steps`` with shape ``f`` (``linear``: ``1 - x``,
    ``cosine``: ``(1 + cos(pi x)) / 2``, ``1-sqrt``: ``1 - sqrt(x)``; ``x`` the fraction of the
    decay done): ``min_lr + (lr - min_lr) * f``; ``min_lr`` after ``steps``.

    >>> s = wsd(1.0, steps=10, decay_steps=4, warmup_steps=2)
    >>> [s(t) for t in (0, 1, 2, 6, 8, 10)]
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if warmup_steps + decay_steps > steps:
        raise SpecError(
            f"wsd: warmup_steps + decay_steps must be <= steps ({steps}), "
            f"got {warmup_steps} + {decay_steps}"
        )
    if min_lr > lr:
        raise p.fail("wsd", "min_lr", f"<= lr ({lr!r})", min_lr)
    decay_start = steps - decay_steps
    span = lr - min_lr

    def decay_factor(done: Any, xp: Any) -> Any:
        left = decay_steps - done
        if decay == "linear":
            return left / decay_steps
        if decay == "cosine":
            return half_cosine(left, decay_steps, xp)
        return (left / decay_steps) / (1 + xp.sqrt(done / decay_steps))

    def evaluate(t: Any, xp: Any) -> Any:
        value = xp.zeros_like(t) + min_lr
        if decay_steps:
            done = xp.clip(t - decay_start, 0.0, decay_steps)
            value = xp.where(t < steps, min_lr + span * decay_factor(done, xp), value)
        value = xp.where(t < decay_start, lr, value)
        if warmup_steps:
            ramp = min_lr + span * (xp.minimum(t, warmup_steps) / warmup_steps)
            value = xp.where(t < warmup_steps, ramp, value)
        return value

    return evaluate


@schedule_kind
def inverse_sqrt(
    lr: Rate,
    warmup_steps: Count,
    timescale: Annotated[float | None, p.optional(p.Param(p.duration, p.Role.DURATION))] = None,
) -> Evaluator:
    """Linear warmup, then ``lr / sqrt((t + timescale - warmup_steps) / timescale)``.

    Hugging Face ``get_inverse_sqrt_schedule`` semantics: the warmup rises as
    ``lr * t / warmup_steps``; ``timescale`` defaults to ``warmup_steps`` (10000 when that is 0).
    Vaswani et al., "Attention is all you need" (2017).

    >>> s = inverse_sqrt(1.0, warmup_steps=4)
    >>> s(2), s(4), s(16)
    (0.5, 1.0, 0.5)
    """
    scale = timescale if timescale is not None else (warmup_steps or 10_000)

    def evaluate(t: Any, xp: Any) -> Any:
        # (t + scale - warmup_steps) / scale, formed as 1 + (t - warmup_steps) / scale: exact
        # 1 at t = warmup_steps (scale - warmup_steps would round when the two differ in size).
        after = lr / xp.sqrt(1 + (xp.maximum(t, warmup_steps) - warmup_steps) / scale)
        if not warmup_steps:
            return after
        return xp.where(t < warmup_steps, lr * (xp.minimum(t, warmup_steps) / warmup_steps), after)

    return evaluate
