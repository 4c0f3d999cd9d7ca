"""The one definition of "an integer" and "a real number" for every layer's argument checks.

numpy scalars count (``np.int64(10)`` is an integer, ``np.float32(0.1)`` a real), booleans never do
(``True`` is not the number 1 here), and a float with an integral value is not an integer
(``10.0`` is refused where a step count is asked for: write ``10``).

Steps and step counts are computed in float64, whose integers are exact up to
:data:`MAX_EXACT_INT` (``2**53``); :func:`is_step_count` is the check for them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["MAX_EXACT_INT", "is_finite_real", "is_int", "is_real", "is_step_count"]

#: The largest integer up to which every integer is exact in float64 (2**53).
MAX_EXACT_INT = 2**53


def is_int(value: Any) -> bool:
    """``True`` for Python and numpy integers, ``False`` for booleans, floats and the rest."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """``True`` for Python/numpy integers and floats (NaN and infinities included), not booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_real(value: Any) -> bool:
    """:func:`is_real` and finite as a float64: NaN, the infinities and integers too large for a
    float64 (``10**400``) are not (the check never raises ``OverflowError``)."""
    if not is_real(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a Python integer beyond float64's range
        return False


def is_step_count(value: Any, minimum: int = 0) -> bool:
    """:func:`is_int` in ``[minimum, MAX_EXACT_INT]``: a count of steps exact in float64."""
    return is_int(value) and minimum <= value <= MAX_EXACT_INT
