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

from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.schedules import cyclic, one_cycle
from schedlab.schedules.base import Schedule
from schedlab.validate import is_real

#: PyTorch's (base_momentum, max_momentum) defaults per kind.
DEFAULTS = {"one_cycle": (0.85, 0.95), "cyclic": (0.8, 0.9)}
CYCLED_KINDS = tuple(DEFAULTS)


class _Height:
    """``h(t)`` of a ``cyclic`` or ``one_cycle`` schedule (a class, not a closure: it pickles)."""

    __slots__ = ("one_cycle", "unit")

    def __init__(self, schedule: Schedule) -> None:
        kw: dict[str, Any] = dict(schedule.params)
        self.one_cycle = schedule.kind == "one_cycle"
        if self.one_cycle:
            self.unit = one_cycle(
                **{**kw, "max_lr": 1.0, "div_factor": 2.0, "final_div_factor": 1.0}
            )
        else:
            self.unit = cyclic(**{**kw, "min_lr": 0.0, "max_lr": 1.0})

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return 2.0 * self.unit(t) - 1.0 if self.one_cycle else self.unit(t)

    def __getstate__(self) -> tuple[bool, Schedule]:
        return self.one_cycle, self.unit

    def __setstate__(self, state: tuple[bool, Schedule]) -> None:
        self.one_cycle, self.unit = state


class Momentum:
    """Momentum values ``max_momentum - (max_momentum - base_momentum) * h(t)`` at steps ``t``."""

    __slots__ = ("base", "height", "schedule", "top")

    def __init__(self, schedule: Schedule, base: float, top: float) -> None:
        self.schedule, self.base, self.top = schedule, base, top
        self.height = _Height(schedule)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self.top - (self.top - self.base) * self.height(t)

    def __getstate__(self) -> tuple[Schedule, float, float]:
        return self.schedule, self.base, self.top

    def __setstate__(self, state: tuple[Schedule, float, float]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Momentum({self.schedule!r}, base={self.base!r}, max={self.top!r})"


def cycle_momentum(
    schedule: Schedule, base_momentum: float | None = None, max_momentum: float | None = None
) -> Momentum:
    """Momentum values at steps ``t`` for a ``cyclic`` or ``one_cycle`` rate schedule.

    ``base_momentum``/``max_momentum`` default to PyTorch's values for the kind
    (``one_cycle``: 0.85/0.95, ``cyclic``: 0.8/0.9).  The result is a picklable callable.

    >>> import schedlab
    >>> m = cycle_momentum(schedlab.cyclic(0.0, 1.0, step_size_up=2))
    >>> [round(float(v), 12) for v in m(np.arange(5.0))]
    [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    if schedule.kind not in DEFAULTS:
        raise ConfigError(
            f"cycle_momentum: the schedule must be one of {', '.join(CYCLED_KINDS)}, "
            f"got {schedule.kind!r}"
        )
    default_base, default_max = DEFAULTS[schedule.kind]
    base = default_base if base_momentum is None else base_momentum
    top = default_max if max_momentum is None else max_momentum
    for name, value in (("base_momentum", base), ("max_momentum", top)):
        if not is_real(value) or not 0 <= value < 1:
            raise ConfigError(f"cycle_momentum: {name} must be a number in [0, 1), got {value!r}")
    return Momentum(schedule, float(base), float(top))
