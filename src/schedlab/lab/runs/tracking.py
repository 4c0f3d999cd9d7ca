"""Live tracking: one small interface that the sweep calls as epochs finish.

A :class:`Tracker` sees a run start (:meth:`~Tracker.start_run`), one epoch of a group of runs at a
time (:meth:`~Tracker.log_epoch`, the records as :class:`~schedlab.lab.runs.store.EpochResult`) and
the run end (:meth:`~Tracker.end_run`).  Implementations: :class:`StoreTracker` (the SQLite run
store, always first: the source of truth), ``schedlab.integrations.mlflow.MlflowTracker`` and
``schedlab.integrations.tensorboard.TensorBoardTracker`` (*mirrors*).

The :class:`Recorder` is the sweep's single writer: it calls the store, then every mirror.  Mirrors
always see a run from epoch 0: when a run resumes from a checkpoint at epoch ``k``, the recorder
first replays the ``k`` stored epochs into them, so a mirror equals the store whether the sweep ran
in one go, was resumed, or was exported afterwards (:func:`replay`).  Units: ``epoch`` is 0-based;
``step_lrs`` holds the rate at every optimizer step of the epoch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.runs.rows import RunRow
from schedlab.lab.runs.store import DONE, EpochResult, RunStore
from schedlab.lab.train.records import EpochRecord

#: statuses passed to :meth:`Tracker.end_run`: the store's final ones, ``failed`` (an error) and
#: ``interrupted`` (stopped by the user or a driver error: resumable, the store keeps ``running``).
END_STATUSES: tuple[str, ...] = (*DONE, "failed", "interrupted")


@dataclass(frozen=True)
class RunInfo:
    """What a tracker knows about a run: its store id, the sweep and label it runs under, its
    identity (``config_hash``, canonical ``schedule`` text, ``seed``), its training ``config``
    (a :class:`~schedlab.lab.train.config.TrainConfig` dict), and ``start_epoch``, the 0-based epoch
    it (re)starts from (0: from scratch)."""

    run_id: int
    sweep: str
    label: str
    schedule: str
    seed: int
    config: Mapping[str, Any]
    config_hash: str
    start_epoch: int = 0

    @property
    def key(self) -> str:
        """A store-independent identity: ``"{config_hash[:16]}/{schedule}/seed={seed}"``."""
        return f"{self.config_hash[:16]}/{self.schedule}/seed={self.seed}"

    def params(self) -> dict[str, str]:
        """Flat text parameters for trackers: the sweep, label, schedule text, seed, config hash,
        every config field, and ``schedule.<name>`` for each top-level field of the spec (nested
        values as JSON)."""
        from schedlab.schedules.plateau import policy_from_spec

        spec = policy_from_spec(self.schedule).spec()
        flat = {
            f"schedule.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in spec.items()
        }
        head = {"sweep": self.sweep, "label": self.label, "schedule": self.schedule,
                "seed": self.seed, "config_hash": self.config_hash}  # fmt: skip
        config = {k: _param(v) for k, v in self.config.items()}
        return {k: str(v) for k, v in {**head, **config, **flat}.items()}

    @classmethod
    def from_row(cls, row: RunRow, start_epoch: int = 0) -> RunInfo:
        """From a :meth:`RunStore.runs` row."""
        return cls(
            run_id=int(row.id), sweep=row.sweep, label=row.label,
            schedule=row.schedule, seed=int(row.seed), config=dict(row.config),
            config_hash=row.config_hash, start_epoch=start_epoch,
        )  # fmt: skip


#: longer config values (a user model's fingerprint) become a hash: trackers cap parameter length
PARAM_LIMIT = 500


def _param(value: Any) -> str:
    """A config value as tracker text: JSON for nested values, ``sha256:...`` when too long."""
    text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    if len(text) <= PARAM_LIMIT:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


@runtime_checkable
class Tracker(Protocol):
    """Receives a sweep's runs as they train."""

    def start_run(self, run: RunInfo) -> None:
        """A run starts at ``run.start_epoch`` (mirrors are always started at 0)."""

    def log_epoch(self, results: Sequence[EpochResult]) -> None:
        """One finished epoch of a group of started runs (``results[i].run_id`` says which)."""

    def end_run(self, run: RunInfo, status: str) -> None:
        """A run ended with a status of :data:`END_STATUSES`."""


class StoreTracker:
    """The SQLite run store as a tracker: one transaction per group epoch (metrics, per-step
    rates, checkpoints, status), see :meth:`RunStore.commit_epoch`."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def start_run(self, run: RunInfo) -> None:
        self.store.start_runs([run.run_id], restart=run.start_epoch == 0)

    def log_epoch(self, results: Sequence[EpochResult]) -> None:
        self.store.commit_epoch(results)

    def end_run(self, run: RunInfo, status: str) -> None:
        # finished/diverged are set by commit_epoch; interrupted stays running
        if status == "failed":
            self.store.mark([run.run_id], "failed")


def stored_epochs(store: RunStore, run_id: int) -> list[EpochRecord]:
    """The committed epochs of a run as records; the per-step rates are split evenly over the
    epochs (every epoch of a run has the same number of optimizer steps)."""
    rows = store.epochs(run_id)
    lrs = store.step_lrs(run_id)
    parts = np.split(lrs, len(rows)) if rows and len(lrs) % len(rows) == 0 else None
    return [
        EpochRecord(
            member=run_id,
            step_lrs=parts[i] if parts else np.zeros(0),
            **row.to_dict(),
        )
        for i, row in enumerate(rows)
    ]


class Recorder:
    """The sweep's single writer: the store first, then each mirror tracker, for a group of runs.

    ``sweep`` names the sweep whose labels the mirrors see (``None``: any sweep holding the run).
    """

    def __init__(self, store: RunStore, sweep: str | None = None, trackers: Iterable[Tracker] = ()):
        self.store = store
        self.sweep = sweep
        self.mirrors: tuple[Tracker, ...] = tuple(trackers)
        for tracker in self.mirrors:
            if not isinstance(tracker, Tracker):
                raise ConfigError(
                    "trackers: each must have start_run, log_epoch and end_run; "
                    f"got {type(tracker).__name__}"
                )
        self._store = StoreTracker(store)
        self._runs: dict[int, RunInfo] = {}
        #: the engines that trained the groups recorded (in order of first use, no repeats)
        self.engines: list[str] = []

    def note_engine(self, engine: str) -> None:
        """Remember which engine trained a group (shown to the user at the end)."""
        if engine not in self.engines:
            self.engines.append(engine)

    def _infos(self, run_ids: Sequence[int], start_epoch: int) -> list[RunInfo]:
        rows = {r.id: r for r in self.store.runs(self.sweep, id=list(run_ids))}
        return [RunInfo.from_row(rows[i], start_epoch) for i in run_ids]

    def start(self, run_ids: Sequence[int], start_epoch: int) -> None:
        """Runs (re)start at ``start_epoch``: the store records a new attempt (erasing the old one
        when ``start_epoch`` is 0); mirrors start from 0 and get the stored epochs replayed."""
        infos = self._infos(run_ids, start_epoch)
        for info in infos:
            self._store.start_run(info)
            self._runs[info.run_id] = info
        if not self.mirrors:
            return
        history = {i.run_id: stored_epochs(self.store, i.run_id)[:start_epoch] for i in infos}
        for mirror in self.mirrors:
            for info in infos:
                mirror.start_run(replace(info, start_epoch=0))
            for epoch in range(start_epoch):
                mirror.log_epoch([
                    EpochResult(i.run_id, history[i.run_id][epoch], None, False)
                    for i in infos if epoch < len(history[i.run_id])
                ])  # fmt: skip

    def epoch(self, results: Sequence[EpochResult]) -> None:
        """Commit one epoch of a group; runs with ``done`` then end with their stored status."""
        self._store.log_epoch(results)
        for mirror in self.mirrors:
            mirror.log_epoch(results)
        done = [r.run_id for r in results if r.done]
        if done:
            status = {r.id: r.status for r in self.store.runs(id=done)}
            for run_id in done:
                self.end(run_id, status[run_id])

    def end(self, run_id: int, status: str) -> None:
        """End a started run (``failed``, ``interrupted`` or its final stored status)."""
        if status not in END_STATUSES:
            raise ConfigError(
                f"tracking: status must be one of {', '.join(END_STATUSES)}; got {status!r}"
            )
        info = self._runs.pop(run_id, None)
        if info is None:
            return
        self._store.end_run(info, status)
        for mirror in self.mirrors:
            mirror.end_run(info, status)

    def end_all(self, run_ids: Iterable[int], status: str) -> None:
        """End every still-started run of ``run_ids`` with ``status``."""
        for run_id in list(run_ids):
            self.end(run_id, status)


def replay(
    store: RunStore, tracker: Tracker, sweep: str | None = None, **filters: Any
) -> list[RunInfo]:
    """Send stored runs (as :meth:`RunStore.runs` selects them) through ``tracker`` as if they were
    training now: start at 0, every committed epoch, then the end (unfinished runs end
    ``interrupted``).  This is how the exporters work.  Returns the runs sent."""
    infos = []
    for row in store.runs(sweep, **filters):
        info = RunInfo.from_row(row)
        tracker.start_run(info)
        epochs = stored_epochs(store, info.run_id)
        done = row.status in DONE
        for k, record in enumerate(epochs):
            last = done and k == len(epochs) - 1
            tracker.log_epoch([EpochResult(info.run_id, record, None, last)])
        tracker.end_run(info, row.status if row.status in END_STATUSES else "interrupted")
        infos.append(info)
    return infos
