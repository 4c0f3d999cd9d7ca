"""How numbers, intervals and p-values are written, in one place for every table and page.

Every function returns plain text; a missing value (``None`` or NaN) is written as :data:`MISSING`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schedlab.lab.analysis.inference import Comparison

#: the text of a missing value (``None``, NaN)
MISSING = "\u2013"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: float | None, digits: int = 4, *, fixed: bool = False, sign: bool = False) -> str:
    """``x`` to ``digits`` significant digits (``fixed``: decimals), with ``+`` when ``sign``."""
    if _missing(x):
        return MISSING
    plus = "+" if sign else ""
    return f"{x:{plus}.{digits}{'f' if fixed else 'g'}}"


def difference(x: float | None, digits: int = 3) -> str:
    """A signed difference, ``+0.0123``; below 1e-12 (float noise of equal values) ``+0``."""
    if _missing(x):
        return MISSING
    return "+0" if abs(x) < 1e-12 else number(x, digits, sign=True)


def interval(
    est: Any, digits: int = 4, *, fixed: bool = False, sign: bool = False, plus_minus: bool = False
) -> str:
    """An estimate with its interval: ``mean [low, high]`` or, with ``plus_minus``, ``mean ±
    half-width``; the mean alone without an interval (fewer than 2 values)."""
    if est is None:
        return MISSING
    mean = number(est.mean, digits, fixed=fixed, sign=sign)
    if getattr(est, "n", 2) < 2 or _missing(est.low) or _missing(est.high):
        return mean
    if plus_minus:
        return f"{mean} \u00b1 {number((est.high - est.low) / 2, digits, fixed=fixed)}"
    low, high = (number(v, digits, fixed=fixed, sign=sign) for v in (est.low, est.high))
    return f"{mean} [{low}, {high}]"


def p_value(p: float | None) -> str:
    """``<1e-4`` below 1e-4, else 3 significant digits."""
    if _missing(p):
        return MISSING
    return "<1e-4" if p < 1e-4 else f"{p:.3g}"


def decimals_for(values: Iterable[float], minimum: int = 4) -> int:
    """Decimals that keep 3 significant digits of the smallest nonzero ``|value|`` below 1
    (losses near 0), at least ``minimum``."""
    finite = [abs(v) for v in values if v and math.isfinite(v)]
    smallest = min(finite, default=1.0)
    return max(minimum, 2 - math.floor(math.log10(smallest))) if smallest < 1 else minimum


# --- a paired comparison ----------------------------------------------------------------------


def _signed(x: float, digits: int = 4) -> str:
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return number(x, digits, fixed=True, sign=True)


def effect(c: Comparison) -> str:
    """``+0.0123 [+0.0050, +0.0196; +0.0061, +0.0190]``: the mean difference, its t interval and
    its bootstrap interval."""
    t = f"{_signed(c.low)}, {_signed(c.high)}" if math.isfinite(c.low) else MISSING
    boot = (
        f"{_signed(c.boot_low)}, {_signed(c.boot_high)}" if math.isfinite(c.boot_low) else MISSING
    )
    return f"{_signed(c.mean_diff)} [{t}; {boot}]"


def side(c: Comparison, sign: int) -> str:
    """Seeds on the claim's side: ``9/10``."""
    wins = c.sign.wins if sign > 0 else c.sign.losses
    return f"{wins}/{c.n}"


def power(c: Comparison) -> tuple[str, str]:
    """``(minimal detectable effect, seeds needed for the SESOI)`` of ``c`` as text."""
    mde = number(c.mde, 3) if math.isfinite(c.mde) else MISSING
    need = MISSING if c.sesoi is None else (str(c.seeds_needed) if c.seeds_needed else "> 100,000")
    return mde, need


def decision_cells(c: Comparison, verdict: str, sign: int) -> list[str]:
    """The cells of :data:`DECISION_HEAD` for ``c`` (``a - b``) and its ``verdict``; ``sign``:
    +1 where higher is better."""
    mde, need = power(c)
    return [verdict, effect(c), f"{side(c, sign)} (p {p_value(c.sign.p_value)})",
            p_value(c.p_t_adj), p_value(c.p_tost_adj), mde, need]  # fmt: skip


#: the columns of a decided comparison: verdict, effect, sign test, Holm and TOST p, power
DECISION_HEAD: tuple[str, ...] = (
    "verdict", "Δ [95% t; bootstrap]", "better seeds (sign p)", "p (Holm)", "TOST p (Holm)",
    "MDE (80%)", "seeds for SESOI",
)  # fmt: skip
