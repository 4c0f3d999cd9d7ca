"""Accurate building blocks shared by the kinds (all take an array namespace ``xp``).

They are written so that the relative error stays near one ulp over long horizons: the part of an
interval still *left* (``total - done``) is formed exactly first, and decays to zero use ``sin``
of the remaining fraction instead of the textbook ``(1 + cos x) / 2``, which cancels near the end.
"""

from __future__ import annotations

import math
from typing import Any

HALF_PI = math.pi / 2


def half_cosine(left: Any, total: Any, xp: Any) -> Any:
    """``(1 + cos(pi * (total - left) / total)) / 2`` computed as ``sin(pi/2 * left/total)**2``.

    Goes from 1 (``left == total``) to 0 (``left == 0``) with full relative precision at both ends.
    """
    return xp.sin(HALF_PI * (left / total)) ** 2


def floor_div(t: Any, divisor: float, xp: Any) -> Any:
    """``floor(t / divisor)``, exact wherever ``q * divisor`` is (integer steps and counts).

    The quotient is moved by one where it lands on the wrong side of a multiple: inside
    ``jax.jit`` XLA compiles ``t / c`` as ``t * (1 / c)``, off by an ulp, so a bare ``floor``
    misses boundaries (``floor(41 / 41) == 0`` in float32).
    """
    q = xp.floor(t / divisor)
    q = xp.where(q * divisor > t, q - 1, q)
    return xp.where((q + 1) * divisor <= t, q + 1, q)


def ceil_div(t: Any, divisor: float, xp: Any) -> Any:
    """``ceil(t / divisor)`` with the same exactness as :func:`floor_div`."""
    return -floor_div(-t, divisor, xp)


def lerp(start: Any, end: Any, done: Any, left: Any, total: Any) -> Any:
    """Straight line from ``start`` to ``end``: ``start * left/total + end * done/total``.

    With ``done + left == total`` formed exactly, both terms are non-negative for non-negative
    rates, so the result keeps full relative precision even where it approaches zero.
    """
    return start * (left / total) + end * (done / total)
