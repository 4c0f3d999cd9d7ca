"""What each schedule parameter means, and the checks shared by every schedule kind.

Each check takes the kind name, the parameter name and the received value, and either returns the
normalised value or raises :class:`~schedlab.errors.SpecError` naming the kind, the parameter, the
constraint and the value as it was given: ``cosine: steps must be a positive integer, got 0``.

A kind's signature annotates each parameter with a :class:`Param`, its check *and* its
:class:`Role` (``Annotated[float, Param(learning_rate, Role.LR)]``, spelled :data:`Rate`).  The
role is the parameter's meaning for code that transforms schedules without knowing the kinds
(``schedules.checks`` stretches every step count and scales every learning rate by role).
Parameters that are schedules are checked in :mod:`schedlab.schedules.nested`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from schedlab.errors import SpecError
from schedlab.validate import MAX_EXACT_INT, is_finite_real, is_int, is_real, is_step_count

Check = Callable[[str, str, Any], Any]


class Role(enum.Enum):
    """The meaning of a schedule parameter (what it is measured in)."""

    LR = "a learning rate"
    FLOOR_LR = "the learning rate a decay ends at (its floor)"
    LR_LIST = "a list of learning rates"
    FACTOR = "a plain factor, without a unit"
    FACTOR_PER_STEP = "a factor applied once per step (gamma**t)"
    STEPS = "a number of steps > 0"
    COUNT = "a number of steps >= 0 (a phase that may be empty)"
    DURATION = "a length in steps, a real number > 0"
    STEP_LIST = "a list of step positions"
    POINTS = "a list of [step, learning rate] points"
    SCHEDULE = "a nested schedule"
    SCHEDULES = "a list of nested schedules"
    SCHEDULE_OR_FACTOR = "a nested schedule or a constant factor"
    FLAG = "true or false"
    CHOICE = "one of a few names"


#: The roles whose values are learning rates.
LEARNING_RATES = frozenset({Role.LR, Role.FLOOR_LR})


@dataclass(frozen=True)
class Param:
    """A parameter's check and its role; calling it runs the check."""

    check: Check
    role: Role

    def __call__(self, kind: str, name: str, value: Any) -> Any:
        return self.check(kind, name, value)


def fail(kind: str, name: str, constraint: str, value: Any) -> SpecError:
    """Build the error for ``kind``'s parameter ``name`` that broke ``constraint``."""
    return SpecError(f"{kind}: {name} must be {constraint}, got {value!r}")


def learning_rate(kind: str, name: str, value: Any) -> float:
    """A learning rate: a finite real number >= 0."""
    if not is_finite_real(value) or value < 0:
        raise fail(kind, name, "a finite number >= 0", value)
    return float(value)


def factor(kind: str, name: str, value: Any) -> float:
    """A plain factor without a unit (``m_mul``, ``decay_rate``, ``by``): a finite real >= 0."""
    if not is_finite_real(value) or value < 0:
        raise fail(kind, name, "a finite number >= 0", value)
    return float(value)


def positive(kind: str, name: str, value: Any) -> float:
    """A finite real number > 0 (gamma, power, div_factor, ...)."""
    if not is_finite_real(value) or value <= 0:
        raise fail(kind, name, "a finite number > 0", value)
    return float(value)


def at_least_one(kind: str, name: str, value: Any) -> float:
    """A finite real number >= 1 (``t_mult``)."""
    if not is_finite_real(value) or value < 1:
        raise fail(kind, name, "a finite number >= 1", value)
    return float(value)


def fraction(kind: str, name: str, value: Any) -> float:
    """A real number in [0, 1]."""
    if not is_real(value) or not 0 <= value <= 1:
        raise fail(kind, name, "a number in [0, 1]", value)
    return float(value)


_TOO_LARGE = f"<= 2**53 ({MAX_EXACT_INT}, the largest step float64 counts exactly)"


def _step_count(kind: str, name: str, value: Any, minimum: int, what: str) -> int:
    if not is_int(value) or value < minimum:
        raise fail(kind, name, what, value)
    if not is_step_count(value, minimum):
        raise fail(kind, name, f"{what} {_TOO_LARGE}", value)
    return int(value)


def positive_int(kind: str, name: str, value: Any) -> int:
    """A step count > 0 (at most ``2**53``)."""
    return _step_count(kind, name, value, 1, "a positive integer")


def count(kind: str, name: str, value: Any) -> int:
    """A step count >= 0 (at most ``2**53``)."""
    return _step_count(kind, name, value, 0, "an integer >= 0")


def step_point(kind: str, name: str, value: Any) -> float | int:
    """A step position: a real number in ``[0, 2**53]`` (kept as int when it is one)."""
    if not is_finite_real(value) or value < 0:
        raise fail(kind, name, "a finite number >= 0", value)
    if value > MAX_EXACT_INT:
        raise fail(kind, name, f"a number {_TOO_LARGE}", value)
    return int(value) if is_int(value) else float(value)


def duration(kind: str, name: str, value: Any) -> float:
    """A length in steps that may be fractional (``timescale``): a finite real > 0."""
    return positive(kind, name, value)


def flag(kind: str, name: str, value: Any) -> bool:
    """A boolean (``true``/``false``); numbers are not accepted."""
    if not isinstance(value, bool):
        raise fail(kind, name, "true or false", value)
    return value


def choice(*allowed: str) -> Param:
    """One of a fixed set of strings."""

    def check(kind: str, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise fail(kind, name, "one of " + ", ".join(repr(a) for a in allowed), value)
        return value

    return Param(check, Role.CHOICE)


def optional(inner: Param) -> Param:
    """``None`` or whatever ``inner`` accepts (same role)."""

    def check(kind: str, name: str, value: Any) -> Any:
        return None if value is None else inner.check(kind, name, value)

    return Param(check, inner.role)


def is_list(value: Any) -> bool:
    """A list or tuple of values (not a string, bytes or a mapping)."""
    return not isinstance(value, (str, bytes, Mapping)) and isinstance(value, Sequence)


def increasing(element: Check, what: str) -> Check:
    """A list of values accepted by ``element``, strictly increasing."""

    def check(kind: str, name: str, value: Any) -> list:
        if not is_list(value):
            raise fail(kind, name, f"a list of {what}", value)
        out = [element(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]
        for i in range(1, len(out)):
            if not out[i] > out[i - 1]:
                raise fail(kind, name, f"strictly increasing {what}", list(value))
        return out

    return check


def rates(kind: str, name: str, value: Any) -> list[float]:
    """A non-empty list of learning rates."""
    if not is_list(value) or not value:
        raise fail(kind, name, "a non-empty list of finite numbers >= 0", value)
    return [learning_rate(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]


steps_list = increasing(step_point, "steps >= 0")
milestones_list = increasing(count, "integer steps >= 0")


def points(kind: str, name: str, value: Any) -> list[list[float]]:
    """A non-empty list of ``[step, lr]`` pairs, steps strictly increasing."""
    if not is_list(value) or not value:
        raise fail(kind, name, "a non-empty list of [step, lr] pairs", value)
    pairs = []
    for i, pair in enumerate(value):
        if not is_list(pair) or len(pair) != 2:
            raise fail(kind, f"{name}[{i}]", "a [step, lr] pair", pair)
        pairs.append([pair[0], learning_rate(kind, f"{name}[{i}] lr", pair[1])])
    xs = steps_list(kind, f"{name} steps", [s for s, _ in pairs])
    return [[x, v] for x, (_, v) in zip(xs, pairs, strict=True)]


# Annotated parameter types used in the kinds' signatures: the metadata is the Param.
Rate = Annotated[float, Param(learning_rate, Role.LR)]
FloorRate = Annotated[float, Param(learning_rate, Role.FLOOR_LR)]
Rates = Annotated[list, Param(rates, Role.LR_LIST)]
Factor = Annotated[float, Param(factor, Role.FACTOR)]
Positive = Annotated[float, Param(positive, Role.FACTOR)]
AtLeastOne = Annotated[float, Param(at_least_one, Role.FACTOR)]
Fraction = Annotated[float, Param(fraction, Role.FACTOR)]
Steps = Annotated[int, Param(positive_int, Role.STEPS)]
Count = Annotated[int, Param(count, Role.COUNT)]
Milestones = Annotated[list, Param(milestones_list, Role.STEP_LIST)]
Boundaries = Annotated[list, Param(steps_list, Role.STEP_LIST)]
Points = Annotated[list, Param(points, Role.POINTS)]
Flag = Annotated[bool, Param(flag, Role.FLAG)]
