"""Rungs, brackets and the equal-footing rule of the search.

**Rungs.**  Successive halving trains every candidate at a small budget, keeps the best
``1/eta`` and trains those at an ``eta`` times larger budget, up to the full run.  The budgets
(epochs) are ``b_r = round(epochs / eta**(R - r))``, ``r = 0..R``, with ``R`` the largest number
of halvings that keeps ``b_0 >= min_epochs`` (9 epochs, ``eta=3``: 1, 3, 9).

**Equal footing.**  At rung ``r`` every candidate is trained from scratch for ``b_r`` epochs with
its family *compressed* to that budget: the template's ``E`` is the rung's length, so a cosine
reaches its floor, a linear decay zero and a WSD its cooldown at the end of the rung, whatever
the rung.  Members of different families are compared only as complete schedules of the same
length, so a fast-decaying shape does not win a rung just because it has annealed sooner
(scoring a long schedule's first epochs would favour exactly those).

**Forks (one trunk, many budgets).**  Where two members of one family agree on every rate of
their first ``k`` epochs (and on the optimizer: both schedule-free or neither), the shorter one
starts from the longer one's checkpoint at epoch ``k`` instead of repeating those epochs: the
result is the same run (same initialisation, data order, rates and optimizer state).  For WSD
the agreement is the whole constant phase: the full-budget run is the trunk, and the rung runs
fork their cooldowns from it at 80% of each budget; for ``constant`` and a schedule-free
constant rate every rung run *is* a prefix of the trunk and costs nothing.
:func:`shared_epochs` finds ``k`` by comparing the rates themselves, so this holds for any
family, never by name.

**Brackets (Hyperband).**  With ``brackets = B > 1`` bracket ``b`` starts
``ceil(trials * (R+1) / ((R+1-b) * eta**b))`` candidates at rung ``b`` (Li et al. 2018's
allocation, ``trials`` in the most aggressive bracket ``b = 0``); each bracket halves among its
own candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schedlab.errors import ConfigError
from schedlab.schedules.plateau import Plateau, policy_from_spec
from schedlab.validate import is_int

#: user attribute of an Optuna trial: the bracket it belongs to (each bracket halves among its own)
BRACKET = "bracket"


def rung_epochs(
    epochs: int, eta: int, min_epochs: int = 1, rungs: Sequence[int] | None = None
) -> tuple[int, ...]:
    """The budgets (epochs) of the rungs, smallest first, the last ``epochs`` (module
    docstring); ``rungs`` gives them explicitly instead."""
    if rungs is not None:
        out = tuple(int(r) for r in rungs)
        if not all(is_int(r) and r > 0 for r in rungs) or list(out) != sorted(set(out)):
            raise ConfigError(
                f"rungs must be increasing positive epoch counts; got {list(rungs)!r}"
            )
        if out[-1] != epochs:
            raise ConfigError(
                f"rungs: the last rung must be the full run ({epochs} epochs); got {list(rungs)!r}"
            )
        return out
    if not (is_int(eta) and eta >= 2):
        raise ConfigError(f"eta must be an integer >= 2; got {eta!r}")
    if not (is_int(min_epochs) and 1 <= min_epochs <= epochs):
        raise ConfigError(
            f"min_epochs must be an integer in [1, epochs={epochs}]; got {min_epochs!r}"
        )
    halvings = 0
    while epochs / eta ** (halvings + 1) >= min_epochs - 1e-9:
        halvings += 1
    budgets = sorted(
        {max(min_epochs, round(epochs / eta ** (halvings - r))) for r in range(halvings + 1)}
    )
    return tuple(budgets)


@dataclass(frozen=True)
class Bracket:
    """Bracket ``index``: ``size`` candidates that start at rung ``first``."""

    index: int
    first: int
    size: int


def brackets(trials: int, eta: int, rungs: int, count: int = 1) -> tuple[Bracket, ...]:
    """The brackets of a search with ``rungs`` rungs (module docstring); ``count=1`` is plain
    successive halving."""
    if not (is_int(trials) and trials >= 1):
        raise ConfigError(f"trials must be an integer >= 1; got {trials!r}")
    if not (is_int(count) and 1 <= count <= rungs):
        raise ConfigError(f"brackets must be an integer in [1, {rungs}] (the rungs); got {count!r}")
    out = []
    for b in range(count):
        size = math.ceil(trials * rungs / ((rungs - b) * eta**b) - 1e-9)
        out.append(Bracket(b, b, max(1, size)))
    return tuple(out)


def survivors(n: int, eta: int) -> int:
    """How many of ``n`` candidates a rung keeps: ``max(1, n // eta)``."""
    return max(1, n // eta)


def rates(spec: str, epochs: int, steps_per_epoch: int, unit: str) -> np.ndarray | None:
    """The rate at every optimizer step of the first ``epochs`` epochs (``None`` for a plateau,
    whose rates depend on the run)."""
    policy = policy_from_spec(spec)
    if isinstance(policy, Plateau):
        return None
    steps = np.arange(epochs * steps_per_epoch)
    t = steps // steps_per_epoch if unit == "epoch" else steps
    return np.asarray(policy(t), dtype=np.float64)


def shared_epochs(a: str, b: str, epochs: int, steps_per_epoch: int, unit: str) -> int:
    """How many whole epochs (at most ``epochs``) runs of specs ``a`` and ``b`` share exactly:
    the same rate at every step, and the same optimizer (both ``schedule_free(...)`` with the same
    parameters, or neither)."""
    pa, pb = policy_from_spec(a), policy_from_spec(b)
    if isinstance(pa, Plateau) or isinstance(pb, Plateau):
        return 0
    marks = [
        (p.kind == "schedule_free", dict(p.params) if p.kind == "schedule_free" else None)
        for p in (pa, pb)
    ]
    if marks[0][0] != marks[1][0] or (
        marks[0][0]
        and {k: v for k, v in marks[0][1].items() if k != "schedule"}
        != {k: v for k, v in marks[1][1].items() if k != "schedule"}
    ):
        return 0
    ra = rates(a, epochs, steps_per_epoch, unit)
    rb = rates(b, epochs, steps_per_epoch, unit)
    assert ra is not None and rb is not None
    differ = np.flatnonzero(ra != rb)
    first = int(differ[0]) if differ.size else len(ra)
    return first // steps_per_epoch
