"""Per-member rate policies of a batched run: the rate of every member at every step of an epoch.

A member's policy is a :class:`~schedlab.Schedule` (a pure function of ``t``) or a
:class:`~schedlab.schedules.plateau.Plateau` (driven by the member's validation loss after each
epoch), built by :func:`~schedlab.schedules.plateau.policy_from_spec`.

- Schedule, ``unit="epoch"``: every step of epoch ``e`` uses ``schedule(e)``.
- Schedule, ``unit="step"``: step ``s`` of epoch ``e`` uses ``schedule(e * steps_per_epoch + s)``.
- Plateau: every step uses ``plateau.lr``, which changes only in :func:`observe` (once per epoch);
  a plateau with ``warmup_unit="step"`` is ticked once per optimizer step (rate read, then tick).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schedlab.schedules.base import Schedule
from schedlab.schedules.plateau import Plateau, policy_from_spec

Policy = Schedule | Plateau

__all__ = ["Policy", "epoch_rates", "make_policies", "observe"]


def make_policies(specs: Sequence[object]) -> list[Policy]:
    """One fresh policy per spec (``ValueError`` from the spec parser for a bad one)."""
    return [policy_from_spec(spec) for spec in specs]


def epoch_rates(
    policies: Sequence[Policy], epoch: int, steps_per_epoch: int, unit: str
) -> np.ndarray:
    """float64 array ``(steps_per_epoch, K)``: member k's rate at each step of epoch ``epoch``.

    Advances the warmup clock of step-unit plateaus (their state is part of the run).
    """
    rates = np.empty((steps_per_epoch, len(policies)), dtype=np.float64)
    first = epoch * steps_per_epoch
    for k, policy in enumerate(policies):
        if isinstance(policy, Plateau):
            if policy.spec()["warmup_unit"] == "step" and policy.warming_up:
                for s in range(steps_per_epoch):
                    rates[s, k] = policy.lr
                    policy.tick()
            else:
                rates[:, k] = policy.lr
        elif unit == "epoch":
            rates[:, k] = policy(epoch)
        else:
            rates[:, k] = policy(np.arange(first, first + steps_per_epoch))
    return rates


def observe(policies: Sequence[Policy], val_losses: np.ndarray, active: np.ndarray) -> None:
    """After an epoch: each active plateau member sees its validation loss (schedules ignore it)."""
    for policy, loss, alive in zip(policies, val_losses, active, strict=True):
        if alive and isinstance(policy, Plateau):
            policy.update(float(loss))
