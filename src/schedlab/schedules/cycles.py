"""Cyclical schedules: cosine with warm restarts (SGDR), cyclical rates (CLR) and one-cycle."""

from __future__ import annotations

import math
from typing import Annotated, Any

from schedlab.schedules import params as p
from schedlab.schedules.base import Evaluator, schedule_kind
from schedlab.schedules.params import Flag, Fraction, Positive, Rate, Steps
from schedlab.schedules.shapes import half_cosine, lerp


@schedule_kind
def cosine_restarts(
    lr: Rate,
    period: Steps,
    t_mult: Annotated[float, p.at_least_one] = 1,
    m_mul: Rate = 1.0,
    min_lr: Rate = 0.0,
) -> Evaluator:
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle ``i`` lasts ``len_i = period * t_mult**i`` steps; ``tau`` steps into it the value is
    ``min_lr + (lr - min_lr) * m_mul**i * (1 + cos(pi * tau / len_i)) / 2``.

    Keras ``CosineDecayRestarts(lr, period, t_mult, m_mul, alpha=min_lr/lr)``; PyTorch
    ``CosineAnnealingWarmRestarts(T_0=period, T_mult=t_mult, eta_min=min_lr)`` when ``m_mul == 1``.
    The cycle index is computed exactly at cycle boundaries (Keras' ``log`` can be off by one there).

    >>> s = cosine_restarts(1.0, period=4)
    >>> s(0), s(2), s(4)
    (1.0, 0.5000000000000001, 1.0)
    """
    if t_mult == 1:

        def cycle(t: Any, xp: Any) -> tuple[Any, Any, Any]:
            i = xp.floor(t / period)
            start = i * period
            return i, t - start, xp.zeros_like(t) + period

    else:
        log_mult = math.log(t_mult)

        def start_of(i: Any) -> Any:
            return period * ((t_mult**i - 1) / (t_mult - 1))

        def cycle(t: Any, xp: Any) -> tuple[Any, Any, Any]:
            i = xp.floor(xp.log1p(t / period * (t_mult - 1)) / log_mult)
            i = xp.where(start_of(i) > t, i - 1, i)
            i = xp.where(start_of(i + 1) <= t, i + 1, i)
            return i, t - start_of(i), period * t_mult**i

    def evaluate(t: Any, xp: Any) -> Any:
        i, tau, length = cycle(t, xp)
        left = xp.maximum(length - tau, 0.0)
        return min_lr + (lr - min_lr) * (m_mul**i) * half_cosine(left, length, xp)

    return evaluate


@schedule_kind
def cyclic(
    min_lr: Rate,
    max_lr: Rate,
    step_size_up: Steps,
    step_size_down: Annotated[int | None, p.optional(p.positive_int)] = None,
    mode: Annotated[str, p.choice("triangular", "triangular2", "exp_range")] = "triangular",
    gamma: Positive = 1.0,
) -> Evaluator:
    """Cyclical learning rate (Smith 2017), PyTorch ``CyclicLR`` semantics (the rate part).

    A cycle rises linearly from ``min_lr`` to ``max_lr`` over ``step_size_up`` steps and falls back
    over ``step_size_down`` (default ``step_size_up``).  The amplitude ``max_lr - min_lr`` is scaled
    per cycle by ``1 / 2**(cycle - 1)`` (``triangular2``, cycles counted from 1) or per step by
    ``gamma**t`` (``exp_range``).

    >>> s = cyclic(0.0, 1.0, step_size_up=2)
    >>> [s(t) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if max_lr < min_lr:
        raise ValueError(f"cyclic: max_lr must be >= min_lr ({min_lr!r}), got {max_lr!r}")
    up = step_size_up
    down = step_size_up if step_size_down is None else step_size_down
    total = up + down

    def evaluate(t: Any, xp: Any) -> Any:
        completed = xp.floor(t / total)
        into = t - completed * total
        rising = into <= up
        height = xp.where(rising, into / up, (total - into) / down)
        if mode == "triangular2":
            height = height * 0.5**completed
        elif mode == "exp_range":
            height = height * gamma**t
        return min_lr + (max_lr - min_lr) * height

    return evaluate


@schedule_kind
def one_cycle(
    max_lr: Rate,
    steps: Steps,
    pct_start: Fraction = 0.3,
    anneal: Annotated[str, p.choice("cos", "linear")] = "cos",
    div_factor: Positive = 25.0,
    final_div_factor: Positive = 1e4,
    three_phase: Flag = False,
) -> Evaluator:
    """One-cycle policy (Smith & Topin 2018), PyTorch ``OneCycleLR`` semantics (the rate part).

    Rises from ``max_lr / div_factor`` to ``max_lr`` until step ``pct_start * steps - 1``, then
    anneals (``cos`` or ``linear``) to ``max_lr / (div_factor * final_div_factor)`` at step
    ``steps - 1``; with ``three_phase`` it first returns to the initial rate, symmetrically, and then
    anneals to the floor.  From ``steps - 1`` on the value is the floor (PyTorch raises there).

    >>> s = one_cycle(1.0, steps=10, pct_start=0.5, anneal="linear")
    >>> s(0), s(4), s(9)
    (0.04, 1.0, 4e-06)
    """
    initial = max_lr / div_factor
    floor = initial / final_div_factor
    if three_phase:
        phases = [
            (pct_start * steps - 1, initial, max_lr),
            (2 * pct_start * steps - 2, max_lr, initial),
            (steps - 1, initial, floor),
        ]
    else:
        phases = [(pct_start * steps - 1, initial, max_lr), (steps - 1, max_lr, floor)]

    def shape(start_lr: float, end_lr: float, done: Any, left: Any, total: float, xp: Any) -> Any:
        if anneal == "linear":
            return lerp(start_lr, end_lr, done, left, total)
        return end_lr + (start_lr - end_lr) * half_cosine(left, total, xp)

    def evaluate(t: Any, xp: Any) -> Any:
        value = xp.zeros_like(t) + floor
        begins = [0.0] + [end for end, _, _ in phases[:-1]]
        for (end, start_lr, end_lr), begin in reversed(list(zip(phases, begins))):
            length = end - begin
            if length <= 0:
                value = xp.where(t <= end, end_lr, value)
                continue
            done = xp.clip(t - begin, 0.0, length)
            value = xp.where(t <= end, shape(start_lr, end_lr, done, length - done, length, xp), value)
        return xp.where(t >= steps - 1, floor, value)

    return evaluate
