"""Parameter checks shared by every schedule kind.

Each check takes the kind name, the parameter name and the received value, and either returns the
normalised value or raises ``ValueError`` naming the kind, the parameter, the constraint and the value:
``cosine: steps must be a positive integer, got 0``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

Check = Callable[[str, str, Any], Any]


def fail(kind: str, name: str, constraint: str, value: Any) -> ValueError:
    """Build the error for ``kind``'s parameter ``name`` that broke ``constraint``."""
    return ValueError(f"{kind}: {name} must be {constraint}, got {value!r}")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def rate(kind: str, name: str, value: Any) -> float:
    """A learning rate (or a factor of one): a finite real number >= 0."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise fail(kind, name, "a finite number >= 0", value)
    return float(value)


def positive(kind: str, name: str, value: Any) -> float:
    """A finite real number > 0 (gamma, power, div_factor, ...)."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise fail(kind, name, "a finite number > 0", value)
    return float(value)


def at_least_one(kind: str, name: str, value: Any) -> float:
    """A finite real number >= 1 (``t_mult``)."""
    if not _is_real(value) or not math.isfinite(value) or value < 1:
        raise fail(kind, name, "a finite number >= 1", value)
    return float(value)


def fraction(kind: str, name: str, value: Any) -> float:
    """A real number in [0, 1]."""
    if not _is_real(value) or not 0 <= value <= 1:
        raise fail(kind, name, "a number in [0, 1]", value)
    return float(value)


def positive_int(kind: str, name: str, value: Any) -> int:
    """A step count > 0."""
    if not _is_int(value) or value <= 0:
        raise fail(kind, name, "a positive integer", value)
    return int(value)


def count(kind: str, name: str, value: Any) -> int:
    """A step count >= 0."""
    if not _is_int(value) or value < 0:
        raise fail(kind, name, "an integer >= 0", value)
    return int(value)


def flag(kind: str, name: str, value: Any) -> bool:
    """A boolean (``true``/``false``); numbers are not accepted."""
    if not isinstance(value, bool):
        raise fail(kind, name, "true or false", value)
    return value


def choice(*allowed: str) -> Check:
    """One of a fixed set of strings."""

    def check(kind: str, name: str, value: Any) -> str:
        if value not in allowed:
            raise fail(kind, name, "one of " + ", ".join(repr(a) for a in allowed), value)
        return str(value)

    return check


def optional(inner: Check) -> Check:
    """``None`` or whatever ``inner`` accepts."""

    def check(kind: str, name: str, value: Any) -> Any:
        return None if value is None else inner(kind, name, value)

    return check


def increasing(element: Check, what: str) -> Check:
    """A list of values accepted by ``element``, strictly increasing."""

    def check(kind: str, name: str, value: Any) -> list:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise fail(kind, name, f"a list of {what}", value)
        out = [element(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]
        for i in range(1, len(out)):
            if not out[i] > out[i - 1]:
                raise fail(kind, name, f"strictly increasing {what}", list(value))
        return out

    return check


def rates(kind: str, name: str, value: Any) -> list[float]:
    """A non-empty list of learning rates."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise fail(kind, name, "a non-empty list of finite numbers >= 0", value)
    return [rate(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]


def step_point(kind: str, name: str, value: Any) -> float | int:
    """A step position: a finite real number >= 0 (kept as int when it is one)."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise fail(kind, name, "a finite number >= 0", value)
    return int(value) if _is_int(value) else float(value)


steps_list = increasing(step_point, "steps >= 0")
milestones_list = increasing(count, "integer steps >= 0")


def schedule(kind: str, name: str, value: Any) -> Any:
    """A nested schedule: a ``Schedule``, or a spec (dict or string) that ``from_spec`` accepts."""
    from schedlab.schedules.base import Schedule
    from schedlab.schedules.spec import from_spec

    if isinstance(value, Schedule):
        return value
    if isinstance(value, (Mapping, str)):
        try:
            return from_spec(value)
        except ValueError as err:
            raise ValueError(f"{kind}: {name}: {err}") from None
    raise fail(kind, name, "a schedule (a Schedule, a spec dict or a spec string)", value)


def schedule_or_rate(kind: str, name: str, value: Any) -> Any:
    """A nested schedule, or a constant factor (a finite number >= 0)."""
    if _is_real(value):
        return rate(kind, name, value)
    return schedule(kind, name, value)


def schedules(kind: str, name: str, value: Any) -> list:
    """A non-empty list of nested schedules."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or not value:
        raise fail(kind, name, "a non-empty list of schedules", value)
    return [schedule(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]


# Annotated parameter types used in the kinds' signatures: the metadata is the check.
Rate = Annotated[float, rate]
Positive = Annotated[float, positive]
Fraction = Annotated[float, fraction]
Steps = Annotated[int, positive_int]
Count = Annotated[int, count]
Flag = Annotated[bool, flag]
ScheduleArg = Annotated[Any, schedule]
