"""What a sweep needs of a training setup, whoever defines it (built-in or the user's own code).

A *setup* says how every run of a sweep trains except its schedule and seed:
:class:`~schedlab.lab.train.config.TrainConfig` (the built-in models and datasets, by name: a plain
value) and :class:`~schedlab.lab.train.task.UserTask` (the user's model factory, data, loss and
optimizer) are the two.  Sweeps, backends and the store see only the setup's identity
(``to_dict``/``config_hash``, stored with every run, and ``epochs``) and call
:func:`load_data` and :func:`group_trainer` here: a *trainer* for a group of members trains them
epoch by epoch and hands back each member's checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.records import EpochRecord

if TYPE_CHECKING:
    from schedlab.lab.data.datasets import Dataset
    from schedlab.lab.train.task import UserTask

#: what a setup's trainers read: a built-in :class:`Dataset`, or the user's task with its data
Data = Union["Dataset", "UserTask"]


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
class TrainSetup(Protocol):  # TrainConfig, or a task that also has load_data() and trainer()
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


def load_data(setup: TrainSetup, root: str | None = None) -> Data:
    """The data ``setup``'s trainers read (loaded once per sweep, only when something is left):
    the named dataset of a :class:`TrainConfig` (from ``root`` or the usual places), or the
    task's own ``load_data(root)``."""
    if isinstance(setup, TrainConfig):
        from schedlab.lab.data.datasets import load_dataset

        return load_dataset(
            setup.dataset, root=root, train_size=setup.train_size,
            val_fraction=setup.val_fraction, seed=setup.data_seed,
        )  # fmt: skip
    return setup.load_data(root)  # type: ignore[attr-defined]


def group_trainer(
    setup: TrainSetup,
    data: Data,
    members: Sequence[Member],
    *,
    device: str = "cpu",
    states: Sequence[dict | None] | None = None,
) -> GroupTrainer:
    """A trainer for ``members`` of ``setup`` on ``data``, restored from ``states``
    (``member_state`` payloads): the batched trainer of the built-in models for a
    :class:`TrainConfig` (with the user-model engines beside it for ``schedule_free(...)``
    members, see :mod:`schedlab.lab.train.split`), the task's own ``trainer(...)`` otherwise."""
    if isinstance(setup, TrainConfig):
        from schedlab.lab.train.schedule_free import is_schedule_free
        from schedlab.lab.train.trainer import BatchedTrainer

        if any(is_schedule_free(m.schedule) for m in members):  # the real schedulefree optimizer
            from schedlab.lab.train.split import SplitTrainer

            return SplitTrainer.for_builtin(setup, data, members, device=device, states=states)
        return BatchedTrainer(setup, data, members, device=device, states=states)
    return setup.trainer(data, members, device=device, states=states)  # type: ignore[attr-defined]
