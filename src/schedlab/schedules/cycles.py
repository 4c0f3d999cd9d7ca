"""Cyclical schedules: cosine with warm restarts (SGDR), cyclical rates (CLR) and one-cycle."""

from __future__ import annotations

import math
from typing import Annotated, Any

from schedlab.errors import SpecError
from schedlab.schedules import params as p
from schedlab.schedules.base import Evaluator, schedule_kind
from schedlab.schedules.params import (
    AtLeastOne,
    Factor,
    Flag,
    FloorRate,
    Fraction,
    Positive,
    Rate,
    Role,
    Steps,
)
from schedlab.schedules.shapes import floor_div, half_cosine, lerp


@schedule_kind(horizon=lambda q: q["period"], periodic=True)
def cosine_restarts(
    lr: Rate,
    period: Steps,
    t_mult: AtLeastOne = 1,
    m_mul: Factor = 1.0,
    min_lr: FloorRate = 0.0,
) -> Evaluator:
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Its horizon is its first cycle, ``period`` steps.  Cycle ``i`` lasts ``len_i = period * t_mult**i`` steps; ``tau`` steps into it the value is
    ``min_lr + (lr - min_lr) * m_mul**i * (1 + cos(pi * tau / len_i)) / 2``.

    Keras ``CosineDecayRestarts(lr, period, t_mult, m_mul, alpha=min_lr/lr)``; PyTorch
    ``CosineAnnealingWarmRestarts(T_0=period, T_mult=t_mult, eta_min=min_lr)`` when ``m_mul == 1``.
    The cycle index is computed exactly at cycle boundaries (Keras' ``log`` can be off by one there).

    >>> s = cosine_restarts(1.0, period=4)
    >>> [round(s(t), 12) for t in (0, 2, 4)]
    [1.0, 0.5, 1.0]
    """
    log_mult = math.log(t_mult)
    two_power = math.frexp(t_mult)[0] == 0.5  # t_mult is 2, 4, 8, ...
    log2_mult = math.frexp(t_mult)[1] - 1

    def cycle(t: Any, xp: Any) -> tuple[Any, Any, Any]:
        """``(i, left, length)``: each ``t``'s cycle, the steps left in it and its length."""
        if t_mult == 1:
            i = floor_div(t, period, xp)
            return i, period - (t - period * i), period
        # Cycle i starts at period * (t_mult**i - 1) / (t_mult - 1) and lasts period * t_mult**i;
        # the log estimate of i can be one off next to a start, so it is checked against both ends.
        # (xp.power, not **: numpy scalars would use another pow than arrays, an ulp apart.)
        if two_power:  # t_mult = 2**k: the binary exponent of the cycle estimate gives i directly
            _, exponent = xp.frexp(t * ((t_mult - 1) / period) + 1.0)
            whole = (exponent - 1) // log2_mult
            i = whole.astype(t.dtype)
            power = xp.ldexp(xp.ones_like(t), whole * log2_mult)
        else:
            i = xp.floor(xp.log1p(t * ((t_mult - 1) / period)) / log_mult)
            power = xp.power(t_mult, i)
        start, length = period * ((power - 1) / (t_mult - 1)), period * power
        late, early = start > t, start + length <= t
        i = i - late + early
        if two_power:  # scaling by t_mult is exact: cheaper than a second power
            power = power * xp.where(late, 1 / t_mult, xp.where(early, t_mult, 1.0))
        else:
            power = xp.power(t_mult, i)
        start, length = period * ((power - 1) / (t_mult - 1)), period * power
        return i, length - (t - start), length

    def evaluate(t: Any, xp: Any) -> Any:
        i, left, length = cycle(t, xp)
        amplitude = lr - min_lr if m_mul == 1 else (lr - min_lr) * xp.power(m_mul, i)
        return min_lr + amplitude * half_cosine(left, length, xp)

    return evaluate


def _cycle_length(q: Any) -> int:
    down = q["step_size_down"]
    return q["step_size_up"] + (q["step_size_up"] if down is None else down)


@schedule_kind(horizon=_cycle_length, periodic=True)
def cyclic(
    min_lr: FloorRate,
    max_lr: Rate,
    step_size_up: Steps,
    step_size_down: Annotated[int | None, p.optional(p.Param(p.positive_int, Role.STEPS))] = None,
    mode: Annotated[str, p.choice("triangular", "triangular2", "exp_range")] = "triangular",
    gamma: Annotated[float, p.Param(p.positive, Role.FACTOR_PER_STEP)] = 1.0,
) -> Evaluator:
    """Cyclical learning rate (Smith 2017), PyTorch ``CyclicLR`` semantics (the rate part).

    A cycle rises linearly from ``min_lr`` to ``max_lr`` over ``step_size_up`` steps and falls back
    over ``step_size_down`` (default ``step_size_up``).  The amplitude ``max_lr - min_lr`` is scaled
    per cycle by ``1 / 2**(cycle - 1)`` (``triangular2``, cycles counted from 1) or per step by
    ``gamma**t`` (``exp_range``).  Its horizon is one cycle, ``step_size_up + step_size_down``.

    >>> s = cyclic(0.0, 1.0, step_size_up=2)
    >>> [s(t) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if max_lr < min_lr:
        raise SpecError(f"cyclic: max_lr must be >= min_lr ({min_lr!r}), got {max_lr!r}")
    up = step_size_up
    down = step_size_up if step_size_down is None else step_size_down
    total = up + down

    def evaluate(t: Any, xp: Any) -> Any:
        completed = floor_div(t, total, xp)
        into = t - completed * total
        rising = into <= up
        height = xp.where(rising, into / up, (total - into) / down)
        if mode == "triangular2":
            height = height * 0.5**completed
        elif mode == "exp_range":
            height = height * gamma**t
        return min_lr + (max_lr - min_lr) * height

    return evaluate


@schedule_kind(horizon=lambda q: q["steps"])
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

    def shape(start_lr: Any, end_lr: Any, done: Any, left: Any, total: Any, xp: Any) -> Any:
        if anneal == "linear":
            return lerp(start_lr, end_lr, done, left, total)
        return end_lr + (start_lr - end_lr) * half_cosine(left, total, xp)

    # Phase k covers the steps after the previous phase's last step up to its own: one row
    # (last step, begin, length, start rate, end rate) each.  A phase of no length becomes the
    # single step before its last one, where the shape already equals its end rate.
    rows, begin = [], 0.0
    for end, start_lr, end_lr in phases:
        if end > begin:
            rows.append((end, begin, end - begin, start_lr, end_lr))
        else:
            rows.append((end, end - 1, 1.0, start_lr, end_lr))
        begin = end

    def evaluate(t: Any, xp: Any) -> Any:
        # Look up each step's phase constants first, so the shape (one sin) runs once per step.
        within = [t <= row[0] for row in rows[:-1]]

        def column(k: int) -> Any:  # in t's dtype, so that float32 steps give a float32 curve
            value = xp.asarray(rows[-1][k], dtype=t.dtype)
            for inside, row in zip(reversed(within), reversed(rows[:-1]), strict=True):
                value = xp.where(inside, xp.asarray(row[k], dtype=t.dtype), value)
            return value

        begin, length, start_lr, end_lr = (column(k) for k in range(1, 5))
        done = xp.minimum(t - begin, length)  # t > begin within its phase; capped past the end
        value = shape(start_lr, end_lr, done, length - done, length, xp)
        return xp.where(t >= steps - 1, floor, value)

    return evaluate
