"""The schedule-free marker: rates meant for a schedule-free optimizer (Defazio et al. 2024).

``schedule_free(schedule)`` has the value of ``schedule`` at every step: it is a pure schedule like
any other.  What it adds is a meaning for the code that trains with it: the lab trains a member
whose spec is ``schedule_free(...)`` with the schedule-free counterpart of the setup's optimizer
(``schedulefree.SGDScheduleFree`` for SGD, ``schedulefree.AdamWScheduleFree`` for Adam/AdamW),
the inner schedule driving that optimizer's base rate (usually ``constant(lr)``, or a warmup to
it), and evaluates at the averaged point (``optimizer.eval()``) (see docs/search.md).  ``r`` and
``weight_lr_power`` are the package's parameters of the same name (the weighting of the average).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from schedlab.schedules import params as p
from schedlab.schedules.base import Evaluator, Schedule, schedule_kind
from schedlab.schedules.nested import ScheduleArg


def _inner_horizon(params: Mapping[str, Any]) -> float | None:
    return params["schedule"].horizon


@schedule_kind(horizon=_inner_horizon)
def schedule_free(
    schedule: ScheduleArg,
    r: Annotated[float, p.Param(p.factor, p.Role.FACTOR)] = 0.0,
    weight_lr_power: Annotated[float, p.Param(p.factor, p.Role.FACTOR)] = 2.0,
) -> Evaluator:
    """The rates of ``schedule``, for a schedule-free optimizer (value: ``schedule(t)``).

    ``r``: the polynomial weighting power of the average (``(k+1)**r``); ``weight_lr_power``:
    the power of the largest rate so far in the weights of the average (both as in the
    ``schedulefree`` package, defaults 0 and 2).

    >>> s = schedule_free(constant(0.5))
    >>> s(0), s(1000)
    (0.5, 0.5)
    """
    inner: Schedule = schedule
    return inner.evaluate
