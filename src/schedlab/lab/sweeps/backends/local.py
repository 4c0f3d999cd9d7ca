"""The local backend: the groups train one after the other in this process (the default)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from schedlab.lab.sweeps.groups import train_group

if TYPE_CHECKING:
    from schedlab.lab.runs.tracking import Recorder
    from schedlab.lab.train.setup import Data, TrainSetup


class LocalBackend:
    """Trains each group in this process, the nearly finished ones (latest start epoch) first."""

    def train(
        self,
        recorder: Recorder,
        config: TrainSetup,
        dataset: Data,
        groups: Mapping[int, Sequence[int]],
        group_size: int,
        device: str,
    ) -> Iterator[int]:
        for start in sorted(groups, reverse=True):
            ids = list(groups[start])
            for i in range(0, len(ids), group_size):
                yield from train_group(
                    recorder.store,
                    config,
                    dataset,
                    ids[i : i + group_size],
                    start,
                    device,
                    recorder,
                )
