"""Piecewise kinds: constant levels between boundaries (Keras ``PiecewiseConstantDecay``) and
linear interpolation between points.  Boundaries and point steps may be fractional.
"""

from __future__ import annotations

from typing import Any

from schedlab.errors import SpecError
from schedlab.schedules.base import Evaluator, schedule_kind
from schedlab.schedules.params import Boundaries, Points, Rates
from schedlab.schedules.shapes import lerp


@schedule_kind(horizon=lambda q: q["boundaries"][-1] if q["boundaries"] else None)
def piecewise_constant(boundaries: Boundaries, values: Rates) -> Evaluator:
    """``values[0]`` for ``t <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < t <= boundaries[i]``,
    ``values[-1]`` after the last boundary.

    Keras ``PiecewiseConstantDecay`` semantics: the change comes *after* the boundary step (unlike
    ``multistep``).  ``len(values) == len(boundaries) + 1``.

    >>> s = piecewise_constant([2], [1.0, 0.5])
    >>> s(2), s(3)
    (1.0, 0.5)
    """
    if len(values) != len(boundaries) + 1:
        raise SpecError(
            f"piecewise_constant: values must have len(boundaries) + 1 = {len(boundaries) + 1} "
            f"entries, got {len(values)}"
        )
    edges, levels = list(boundaries), list(values)

    def evaluate(t: Any, xp: Any) -> Any:
        index = xp.searchsorted(xp.asarray(edges, dtype=t.dtype), t, side="left")
        return xp.asarray(levels, dtype=t.dtype)[index]

    return evaluate


@schedule_kind(horizon=lambda q: q["points"][-1][0] if len(q["points"]) > 1 else None)
def piecewise_linear(points: Points) -> Evaluator:
    """Linear interpolation between ``points`` (``[step, lr]`` pairs, steps strictly increasing),
    flat before the first point and after the last.

    >>> piecewise_linear([[0, 0.0], [10, 1.0], [20, 0.0]])(15)
    0.5
    """
    xs = [s for s, _ in points]
    ys = [v for _, v in points]
    if len(points) == 1:
        level = ys[0]
        return lambda t, xp: xp.zeros_like(t) + level

    def evaluate(t: Any, xp: Any) -> Any:
        x = xp.asarray(xs, dtype=t.dtype)
        y = xp.asarray(ys, dtype=t.dtype)
        i = xp.clip(xp.searchsorted(x, t, side="right") - 1, 0, len(xs) - 2)
        x0, x1 = x[i], x[i + 1]
        tc = xp.clip(t, x0, x1)
        return lerp(y[i], y[i + 1], tc - x0, x1 - tc, x1 - x0)

    return evaluate
