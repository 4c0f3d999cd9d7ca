"""Running a sweep: every run of a plan trained (or resumed) into the run store.

Running a plan again *resumes* it: finished runs are skipped, never repeated; unfinished runs with
a checkpoint continue from it (runs at the same epoch are grouped into one batched trainer);
unfinished runs without one restart cleanly.  Each epoch of a group is committed in one
transaction, so killing the process at any moment loses at most the epoch in progress.  One sweep
at a time writes to a store (a lock file ``<store>.lock`` beside it).

Nothing is written before everything that can be checked is: the sweep's name (not taken by
another configuration), and, when something is left to train, the device, the data (it loads)
and its fit (the loss is the task's, a batch fits in the training split).  A rejected sweep
leaves the store as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schedlab.errors import ConfigError, StoreError
from schedlab.lab.runs.store import DONE, RunStore, check_integer
from schedlab.lab.runs.tracking import Recorder, Tracker
from schedlab.lab.sweeps.backends import LocalBackend, SweepBackend
from schedlab.lab.sweeps.groups import pending_groups
from schedlab.lab.sweeps.plan import SweepPlan
from schedlab.lab.train.config import TrainConfig
from schedlab.lab.train.setup import Data, TrainSetup, load_data
from schedlab.validate import is_int

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


def lock_path(store: RunStore | str | os.PathLike) -> Path:
    """The lock file of a store: ``<store>.lock`` beside the store's real file (symbolic links
    and relative paths resolved, so every path to one store names one lock)."""
    path = store.path if isinstance(store, RunStore) else Path(store)
    return Path(f"{path.resolve()}.lock")


@contextmanager
def exclusive(store: RunStore) -> Iterator[None]:
    """Hold an exclusive lock on ``<store>.lock`` while a sweep writes: a second sweep on the same
    store fails at once with a clear error instead of training the same runs twice.  The lock is
    the resolved file's (see :func:`lock_path`), so a symbolic link to the store takes the same
    lock.  The operating system drops the lock when the process ends, however it ends (no stale
    locks after a crash).  No-op where ``fcntl`` does not exist (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(store)
    try:
        fh = open(path, "a+")  # noqa: SIM115 - closed below, after the lock
    except OSError as err:
        raise StoreError(
            f"store {str(store.path)!r}: cannot create its lock file {str(path)!r} ({err.strerror})"
        ) from None
    with fh:
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


def check_device(device: str) -> None:
    """``device`` names a torch device this machine has (``ConfigError`` otherwise)."""
    from schedlab.lab.train.devices import torch_device

    torch_device(device)


def check_fits(setup: TrainSetup, data: Data) -> None:
    """The built-in setup ``setup`` can train on ``data``: its loss is the task's (``mse`` for
    regression, ``cross_entropy`` for classification) and a batch fits in the training split.
    (A :class:`~schedlab.lab.train.task.UserTask` checked this when it was built.)"""
    if not isinstance(setup, TrainConfig):
        return
    task = getattr(data, "task", None)
    want = "mse" if task == "regression" else "cross_entropy"
    if task in ("classification", "regression") and setup.loss != want:
        raise ConfigError(
            f"loss must be {want!r} for a {task} dataset ({data.name!r}); got loss={setup.loss!r}"
        )
    samples = len(getattr(data, "x_train", ()))
    if setup.batch_size > samples:
        raise ConfigError(
            f"batch_size ({setup.batch_size}) is larger than the training split of "
            f"{getattr(data, 'name', 'the data')!r} ({samples} samples, train_size="
            f"{setup.train_size or 'all'}, val_fraction={setup.val_fraction}): every epoch would "
            "be one partial batch"
        )


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
    # everything that can fail is checked before anything is written (no pending runs left
    # behind by a rejected command): the sweep's name, the device, the data and its fit
    check_integer("epochs", config.epochs)
    for seed in plan.seeds:
        check_integer("seed", seed)
    store.check_sweep(plan.name, plan.to_dict())
    stored = store.statuses(config.config_hash(), [(s, seed) for _, s, seed in plan.runs()])
    if any(status not in DONE for status in stored):
        if isinstance(backend, LocalBackend):  # a cluster's workers check their own devices
            check_device(device)
        if dataset is None:
            dataset = load_data(config, data_root)
        check_fits(config, dataset)
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
