"""What a sweep needs of a training setup, whoever defines it (built-in or the user's own code).

A *setup* says how every run of a sweep trains except its schedule and seed:
:class:`~schedlab.lab.train.config.TrainConfig` (the built-in models and datasets, by name) and
:class:`~schedlab.lab.train.task.UserTask` (the user's model factory, data, loss and optimizer)
are the two.  Sweeps, backends and the store see only this protocol: the setup's identity
(``to_dict``/``config_hash``, stored with every run), its data, and a *trainer* for a group of
members that trains them epoch by epoch and hands back each member's checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from schedlab.lab.train.config import Member
from schedlab.lab.train.records import EpochRecord


@runtime_checkable
class GroupTrainer(Protocol):
    """Trains a group of members (schedule x seed) one epoch at a time."""

    #: which engine trains the group, e.g. ``"stacked"`` or ``"per-run"``, and why
    engine: str

    @property
    def epoch(self) -> int:
        """The next epoch to run (0-based)."""
        ...

    def run_epoch(self) -> list[EpochRecord]:
        """Train every member for one epoch, evaluate; one record per member, in order."""
        ...

    def member_state(self, i: int) -> dict:
        """Everything needed to continue member ``i`` exactly (``torch.save``-able)."""
        ...


@runtime_checkable
class TrainSetup(Protocol):
    """How every run of a sweep trains, except its schedule and seed."""

    #: epochs per run
    epochs: int

    def to_dict(self) -> dict[str, Any]:
        """The identity of the setup as JSON (stored with each run); has at least the keys
        ``dataset``, ``model``, ``optimizer`` (short names for tables) and ``epochs``."""
        ...

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`: part of every run's identity."""
        ...

    def load_data(self, root: str | None = None) -> Any:
        """The data the trainers read (loaded once per sweep, only when something is left)."""
        ...

    def trainer(
        self,
        data: Any,
        members: Sequence[Member],
        *,
        device: str = "cpu",
        states: Sequence[dict | None] | None = None,
    ) -> GroupTrainer:
        """A trainer for ``members``, restored from ``states`` (``member_state`` payloads)."""
        ...
