"""Running a sweep: every run of a plan trained (or resumed) into the run store.

Running a plan again *resumes* it: finished runs are skipped, never repeated; unfinished runs with
a checkpoint continue from it (runs at the same epoch are grouped into one batched trainer);
unfinished runs without one restart cleanly.  Each epoch of a group is committed in one
transaction, so killing the process at any moment loses at most the epoch in progress.  One sweep
at a time writes to a store (a lock file ``<store>.lock`` beside it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schedlab.errors import ConfigError, StoreError
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import Recorder, Tracker
from schedlab.lab.sweeps.backends import LocalBackend, SweepBackend
from schedlab.lab.sweeps.groups import pending_groups
from schedlab.lab.sweeps.plan import SweepPlan
from schedlab.lab.train.setup import Data, load_data
from schedlab.validate import is_int

if TYPE_CHECKING:
    pass

#: called with (member-epochs done, member-epochs to do) during :func:`run_sweep`.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` did: run ids of the plan, how many were skipped (already done),
    resumed from a checkpoint, started from scratch, and member-epochs trained now."""

    sweep: str
    run_ids: tuple[int, ...]
    skipped: int
    resumed: int
    started: int
    epochs_trained: int
    #: the engines that trained the groups (empty when nothing was left to train)
    engines: tuple[str, ...] = ()


@contextmanager
def exclusive(store: RunStore) -> Iterator[None]:
    """Hold an exclusive lock on ``<store>.lock`` while a sweep writes: a second sweep on the same
    store fails at once with a clear error instead of training the same runs twice.  The operating
    system drops the lock when the process ends, however it ends (no stale locks after a crash).
    No-op where ``fcntl`` does not exist (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(f"{store.path}.lock")
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "?"
            raise StoreError(
                f"store {str(store.path)!r} is in use by another sweep (pid {owner}); wait for it "
                "to end, or use another --store"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_sweep(
    store: RunStore,
    plan: SweepPlan,
    *,
    device: str = "cpu",
    group_size: int = 16,
    data_root: str | None = None,
    progress: ProgressFn | None = None,
    backend: SweepBackend | None = None,
    trackers: Sequence[Tracker] = (),
    dataset: Data | None = None,
) -> SweepOutcome:
    """Run (or resume) ``plan`` into ``store``; up to ``group_size`` runs train together.

    ``backend``: where the groups train (default :class:`LocalBackend`, one after the other in
    this process; e.g. :class:`schedlab.lab.sweeps.backends.ray.RayBackend`); this process alone
    writes the store.  ``trackers``: mirrors (MLflow, TensorBoard, ...) called after the store as
    epochs finish.  ``dataset``: the data, already loaded (default: ``load_dataset`` of the
    setup's data, from ``data_root``), loaded only when something is left to train.
    """
    if not (is_int(group_size) and group_size >= 1):
        raise ConfigError(f"run_sweep: group_size must be an integer >= 1; got {group_size!r}")
    with exclusive(store):
        return _run_sweep(
            store, plan, device, int(group_size), data_root, progress,
            backend or LocalBackend(), trackers, dataset,
        )  # fmt: skip


def _run_sweep(
    store: RunStore,
    plan: SweepPlan,
    device: str,
    group_size: int,
    data_root: str | None,
    progress: ProgressFn | None,
    backend: SweepBackend,
    trackers: Sequence[Tracker],
    dataset: Data,
) -> SweepOutcome:
    config = plan.config
    store.ensure_sweep(plan.name, plan.to_dict())
    ids = store.ensure_runs(plan.name, config.to_dict(), config.config_hash(), plan.runs())
    groups = pending_groups(store, ids, config.epochs)
    todo = sum(len(g) for g in groups.values())
    total = sum((config.epochs - start) * len(g) for start, g in groups.items())
    outcome = SweepOutcome(plan.name, tuple(ids), len(ids) - todo, 0, 0, 0)
    if not todo:
        return outcome
    if dataset is None:
        dataset = load_data(config, data_root)
    done = 0
    if progress:
        progress(0, total)
    recorder = Recorder(store, plan.name, trackers)
    for n in backend.train(recorder, config, dataset, groups, group_size, device):
        done += n
        if progress:
            progress(done, total)
    resumed = sum(len(g) for s, g in groups.items() if s > 0)
    return SweepOutcome(
        plan.name, tuple(ids), outcome.skipped, resumed, todo - resumed, done,
        tuple(recorder.engines),
    )  # fmt: skip
