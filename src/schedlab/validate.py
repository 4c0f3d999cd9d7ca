"""The one definition of "an integer" and "a real number" for every layer's argument checks.

numpy scalars count (``np.int64(10)`` is an integer, ``np.float32(0.1)`` a real), booleans never do
(``True`` is not the number 1 here), and a float with an integral value is not an integer
(``10.0`` is refused where a step count is asked for: write ``10``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["is_finite_real", "is_int", "is_real"]


def is_int(value: Any) -> bool:
    """``True`` for Python and numpy integers, ``False`` for booleans, floats and the rest."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """``True`` for Python/numpy integers and floats (NaN and infinities included), not booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_real(value: Any) -> bool:
    """:func:`is_real` and finite."""
    return is_real(value) and math.isfinite(value)
