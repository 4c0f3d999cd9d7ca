"""Parameters that are schedules: a :class:`Schedule`, or any spec :func:`from_spec` takes.

``warmup``, ``sequence`` and ``scale`` annotate their schedule parameters with the types here
(:data:`ScheduleArg`, :data:`ScheduleList`, :data:`ScheduleOrFactor`); a nested spec is built at
once, and its errors are prefixed with the outer kind and parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from schedlab.errors import SpecError
from schedlab.schedules.base import Schedule
from schedlab.schedules.params import Param, Role, factor, fail, is_list
from schedlab.schedules.spec import from_spec
from schedlab.validate import is_real


def schedule(kind: str, name: str, value: Any) -> Schedule:
    """A nested schedule: a ``Schedule``, or a spec (dict or string) that ``from_spec`` accepts."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, (Mapping, str)):
        try:
            return from_spec(value)
        except ValueError as err:
            raise SpecError(f"{kind}: {name}: {err}") from None
    raise fail(kind, name, "a schedule (a Schedule, a spec dict or a spec string)", value)


def schedule_or_factor(kind: str, name: str, value: Any) -> Any:
    """A nested schedule, or a constant factor (a finite number >= 0)."""
    if is_real(value):
        return factor(kind, name, value)
    return schedule(kind, name, value)


def schedules(kind: str, name: str, value: Any) -> list[Schedule]:
    """A non-empty list of nested schedules."""
    if not is_list(value) or not value:
        raise fail(kind, name, "a non-empty list of schedules", value)
    return [schedule(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]


ScheduleArg = Annotated[Any, Param(schedule, Role.SCHEDULE)]
ScheduleList = Annotated[list, Param(schedules, Role.SCHEDULES)]
ScheduleOrFactor = Annotated[Any, Param(schedule_or_factor, Role.SCHEDULE_OR_FACTOR)]
