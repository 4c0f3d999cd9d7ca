"""One group of members trained by two engines side by side, as one trainer.

A built-in sweep (:class:`~schedlab.lab.train.config.TrainConfig`) whose group holds
``schedule_free(...)`` members trains them through the user-model engines on the same model and
data (:func:`schedlab.lab.train.schedule_free.builtin_task`, the real ``schedulefree``
optimizer), and the other members in the built-in batched trainer.  :class:`SplitTrainer` runs
both for each epoch and hands back records and checkpoints in the members' order; each member
always trains in the same engine, so its checkpoint resumes there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.records import EpochRecord


class SplitTrainer:
    """Members ``parts[j][0]`` (indices into the group) trained by trainer ``parts[j][1]``."""

    def __init__(self, size: int, parts: Sequence[tuple[Sequence[int], Any]]) -> None:
        self.size = size
        self.parts = [(list(ix), trainer) for ix, trainer in parts]
        self._where = {i: (j, k) for j, (ix, _) in enumerate(self.parts) for k, i in enumerate(ix)}
        self.engine = "; ".join(trainer.engine for _, trainer in self.parts)

    @classmethod
    def for_builtin(
        cls,
        config: TrainConfig,
        dataset: Any,
        members: Sequence[Member],
        *,
        device: str,
        states: Sequence[dict | None] | None,
    ) -> SplitTrainer:
        """Schedule-free members in the user-model engine, the others in the batched trainer."""
        from schedlab.lab.train.schedule_free import builtin_task, is_schedule_free
        from schedlab.lab.train.trainer import BatchedTrainer

        free = [i for i, m in enumerate(members) if is_schedule_free(m.schedule)]
        rest = [i for i in range(len(members)) if i not in free]

        def pick(ix: list[int]) -> tuple[list[Member], list[dict | None] | None]:
            return [members[i] for i in ix], None if states is None else [states[i] for i in ix]

        parts: list[tuple[list[int], Any]] = []
        if rest:
            sub, sub_states = pick(rest)
            parts.append(
                (rest, BatchedTrainer(config, dataset, sub, device=device, states=sub_states))
            )
        sub, sub_states = pick(free)
        task = builtin_task(config, dataset, "stacked" if len(free) > 1 else "per-run")
        task = dataclasses.replace(task, workers=1)
        parts.append((free, task.trainer(task, sub, device=device, states=sub_states)))
        return cls(len(members), parts)

    @property
    def epoch(self) -> int:
        """The next epoch to run (0-based)."""
        return self.parts[0][1].epoch

    def run_epoch(self) -> list[EpochRecord]:
        """One epoch of every part; the records in the members' order."""
        records: list[EpochRecord | None] = [None] * self.size
        for ix, trainer in self.parts:
            for i, rec in zip(ix, trainer.run_epoch(), strict=True):
                records[i] = dataclasses.replace(rec, member=i)
        return records  # type: ignore[return-value]

    def member_state(self, i: int) -> dict:
        """Member ``i``'s checkpoint, from the engine that trains it."""
        j, k = self._where[i]
        return self.parts[j][1].member_state(k)
