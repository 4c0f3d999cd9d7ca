"""Combinators: run schedules one after another, or multiply them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schedlab.errors import SpecError
from schedlab.schedules.base import Evaluator, Schedule, schedule_kind
from schedlab.schedules.nested import ScheduleArg, ScheduleList, ScheduleOrFactor
from schedlab.schedules.params import Boundaries


def _after_last(params: Mapping[str, Any]) -> float | None:
    last = params["schedules"][-1].horizon
    if last is None:
        return None
    return (params["boundaries"][-1] if params["boundaries"] else 0) + last


def _longest(params: Mapping[str, Any]) -> float | None:
    parts = [params["schedule"], params["by"]]
    known = [s.horizon for s in parts if isinstance(s, Schedule) and s.horizon is not None]
    return max(known) if known else None


@schedule_kind(horizon=_after_last)
def sequence(schedules: ScheduleList, boundaries: Boundaries) -> Evaluator:
    """Run ``schedules[i]`` from ``boundaries[i-1]`` on, seeing ``t - boundaries[i-1]``.

    optax ``join_schedules`` semantics: ``schedules[0]`` sees ``t`` itself until ``boundaries[0]``;
    ``len(boundaries) == len(schedules) - 1``.

    >>> s = sequence([constant(1.0), linear(1.0, 0.0, steps=4)], boundaries=[2])
    >>> s(1), s(2), s(4)
    (1.0, 1.0, 0.5)
    """
    if len(boundaries) != len(schedules) - 1:
        raise SpecError(
            f"sequence: boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries, "
            f"got {len(boundaries)}"
        )
    parts: list[Schedule] = list(schedules)
    edges = list(boundaries)

    def evaluate(t: Any, xp: Any) -> Any:
        value = parts[0].evaluate(t, xp)
        for edge, part in zip(edges, parts[1:], strict=True):
            value = xp.where(t < edge, value, part.evaluate(xp.maximum(t - edge, 0.0), xp))
        return value

    return evaluate


@schedule_kind(horizon=_longest)
def scale(schedule: ScheduleArg, by: ScheduleOrFactor) -> Evaluator:
    """The product ``schedule(t) * by(t)`` of a schedule and a factor (a schedule or a constant).

    >>> scale(linear(1.0, 0.0, steps=4), by=0.5)(2)
    0.25
    """
    base: Schedule = schedule
    if isinstance(by, Schedule):
        factor: Schedule = by
        return lambda t, xp: base.evaluate(t, xp) * factor.evaluate(t, xp)
    return lambda t, xp: base.evaluate(t, xp) * by
