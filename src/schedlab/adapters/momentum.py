"""Momentum (or Adam beta1) cycling that mirrors a cyclical learning-rate schedule (numpy only).

As in PyTorch ``OneCycleLR`` / ``CyclicLR`` (``cycle_momentum=True``), momentum moves inversely to the
rate: ``momentum(t) = max_momentum - (max_momentum - base_momentum) * h(t)``, where ``h(t)`` in [0, 1]
is how far the rate has climbed in its current phase.  ``h`` comes from the same kind evaluated with
unit endpoints, so this module adds no schedule math of its own:

- ``cyclic``: ``h = cyclic(min_lr=0, max_lr=1, <same steps, mode, gamma>)(t)``;
- ``one_cycle``: ``h = 2 * one_cycle(max_lr=1, div_factor=2, final_div_factor=1, <same rest>)(t) - 1``
  (rate from 0.5 to 1 and back; in the third phase of ``three_phase`` momentum stays at the max).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from schedlab.schedules import cyclic, one_cycle
from schedlab.schedules.base import Schedule

#: PyTorch's (base_momentum, max_momentum) defaults per kind.
DEFAULTS = {"one_cycle": (0.85, 0.95), "cyclic": (0.8, 0.9)}
CYCLED_KINDS = tuple(DEFAULTS)


def _height(schedule: Schedule) -> Callable[[np.ndarray], np.ndarray]:
    kw: dict[str, Any] = dict(schedule.params)
    if schedule.kind == "cyclic":
        unit = cyclic(**{**kw, "min_lr": 0.0, "max_lr": 1.0})
        return unit
    unit = one_cycle(**{**kw, "max_lr": 1.0, "div_factor": 2.0, "final_div_factor": 1.0})
    return lambda t: 2.0 * unit(t) - 1.0


def cycle_momentum(
    schedule: Schedule, base_momentum: float | None = None, max_momentum: float | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Momentum values at steps ``t`` for a ``cyclic`` or ``one_cycle`` rate schedule.

    ``base_momentum``/``max_momentum`` default to PyTorch's values for the kind
    (``one_cycle``: 0.85/0.95, ``cyclic``: 0.8/0.9).

    >>> import schedlab
    >>> m = cycle_momentum(schedlab.cyclic(0.0, 1.0, step_size_up=2))
    >>> [round(float(v), 12) for v in m(np.arange(5.0))]
    [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    if schedule.kind not in DEFAULTS:
        raise ValueError(
            f"cycle_momentum: the schedule must be one of {', '.join(CYCLED_KINDS)}, "
            f"got {schedule.kind!r}"
        )
    default_base, default_max = DEFAULTS[schedule.kind]
    base = default_base if base_momentum is None else base_momentum
    top = default_max if max_momentum is None else max_momentum
    for name, value in (("base_momentum", base), ("max_momentum", top)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"cycle_momentum: {name} must be a number in [0, 1), got {value!r}")
    height = _height(schedule)
    span = top - base
    return lambda t: top - span * height(t)
