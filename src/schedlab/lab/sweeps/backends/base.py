"""What a sweep backend is: something that trains groups of stored runs and records their epochs.

A backend trains the groups of runs that :func:`schedlab.lab.sweeps.run.run_sweep` hands it and
sends every finished epoch to the sweep's :class:`~schedlab.lab.runs.tracking.Recorder` in *this*
process, so the run store keeps a single writer whatever runs the training.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from schedlab.lab.runs.tracking import Recorder
    from schedlab.lab.train.setup import Data, TrainSetup


class SweepBackend(Protocol):
    """Trains groups of stored runs and records their epochs through ``recorder``."""

    def train(
        self,
        recorder: Recorder,
        config: TrainSetup,
        dataset: Data,
        groups: Mapping[int, Sequence[int]],
        group_size: int,
        device: str,
    ) -> Iterator[int]:
        """Train every run of ``groups`` (start epoch -> run ids, see
        :func:`schedlab.lab.sweeps.groups.pending_groups`) to the end, at most ``group_size`` runs
        per batched trainer; yield the number of member-epochs after each committed group epoch."""
        ...
