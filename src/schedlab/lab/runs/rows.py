"""What the run store hands back: frozen, typed rows (like Optuna's ``FrozenTrial``).

Torch-free, so reading a store (exports, trackers, reports) does not import torch.  Units: epochs
are 0-based; ``seconds`` is wall time; ``config`` is the run's training config as a dict
(:meth:`schedlab.lab.train.config.TrainConfig.to_dict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: the metrics an epoch row holds, in :class:`EpochRow` field order after ``epoch``
METRIC_FIELDS: tuple[str, ...] = ("train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class SweepRow:
    """A named sweep: its plan (``config``, as :meth:`SweepPlan.to_dict`), creation time (UTC ISO)
    and number of runs."""

    id: int
    name: str
    config: Mapping[str, Any]
    created: str
    runs: int


@dataclass(frozen=True)
class RunRow:
    """One run (schedule x seed under one config) as one sweep holds it.

    ``schedule`` is the canonical spec text (the identity with ``config_hash`` and ``seed``);
    ``label`` the name the sweep gave it; ``status`` one of ``pending, running, finished,
    diverged, failed``; ``epochs_done`` of ``epochs``; ``attempts`` how many times it (re)started;
    ``started``/``finished`` UTC ISO times or ``None``; ``seconds`` the training time so far.
    """

    id: int
    sweep: str
    dataset: str
    model: str
    optimizer: str
    schedule: str
    label: str
    seed: int
    config_hash: str
    status: str
    epochs_done: int
    epochs: int
    attempts: int
    started: str | None
    finished: str | None
    seconds: float
    config: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serializable (``config`` as a plain dict)."""
        return {**dataclasses.asdict(self), "config": dict(self.config)}


@dataclass(frozen=True)
class EpochRow:
    """One committed epoch of a run: metrics after it (``*_acc`` ``None`` for regression; a loss
    is NaN once the run diverged), ``lr`` the rate of the epoch's last optimizer step,
    ``seconds`` the wall time of the (batched) epoch, ``diverged`` whether the run has diverged."""

    epoch: int
    train_loss: float
    train_acc: float | None
    val_loss: float
    val_acc: float | None
    lr: float | None
    seconds: float
    diverged: bool
    #: the user's own validation metrics, ``val_<name>`` (empty for the built-in models)
    extra: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def metric(self, name: str) -> float | None:
        """The value of metric ``name``: one of :data:`METRIC_FIELDS` or a key of ``extra``
        (``None`` where this epoch has no such value)."""
        if name in METRIC_FIELDS:
            return getattr(self, name)
        return self.extra.get(name)

    def to_dict(self) -> dict[str, Any]:
        """Every field as a dict (the order of :data:`EPOCH_FIELDS`, then ``extra``)."""
        return {**dataclasses.asdict(self), "extra": dict(self.extra)}


#: the columns of an epoch row, in order (``extra``, a JSON mapping, comes after them)
EPOCH_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(EpochRow) if f.name != "extra"
)
