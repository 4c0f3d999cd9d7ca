"""Synchronous successive halving as an Optuna pruner (the search's default, ``halving``)."""

from __future__ import annotations

import math
from typing import Any

import optuna

from schedlab.lab.searches.rungs import BRACKET


class RungPruner(optuna.pruners.BasePruner):
    """At step ``s`` a trial survives when its value is among the best ``max(1, n // eta)`` of
    the ``n`` trials of its bracket that reported a value at ``s`` (ties: the lower trial number;
    NaN last).

    Unlike Optuna's asynchronous ``SuccessiveHalvingPruner``, the verdict is the same whatever
    order the trials ask in, provided every trial of the rung has reported first: the search
    trains a whole rung as one batch, then asks.
    """

    def __init__(self, reduction_factor: int) -> None:
        self.reduction_factor = int(reduction_factor)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        bracket = trial.user_attrs.get(BRACKET)
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        rivals = [
            (t.intermediate_values[step], t.number)
            for t in study.get_trials(deepcopy=False)
            if step in t.intermediate_values and t.user_attrs.get(BRACKET) == bracket
        ]

        def key(item: tuple[Any, int]) -> tuple[bool, float, int]:
            value, number = item
            bad = value is None or math.isnan(value)
            return bad, (0.0 if bad else (-value if maximize else value)), number

        keep = max(1, len(rivals) // self.reduction_factor)
        return trial.number not in {n for _, n in sorted(rivals, key=key)[:keep]}
