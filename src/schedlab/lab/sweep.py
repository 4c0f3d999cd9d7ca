"""Sweeps: schedules x seeds under one training config, trained in batched groups, resumable.

The plan of a sweep is every ``(schedule, seed)`` pair; the identity of a run is
``(config hash, canonical schedule text, seed)`` (see :mod:`schedlab.lab.store`).  Running a plan
again *resumes* it: finished runs are skipped, never repeated; unfinished runs with a checkpoint
continue from it (runs at the same epoch are grouped into one batched trainer); unfinished runs
without one restart cleanly.  Each epoch of a group is committed in one transaction, so killing the
process at any moment loses at most the epoch in progress.  One sweep at a time writes to a store
(a lock file ``<store>.lock`` beside it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedlab.lab.config import Member, TrainConfig
from schedlab.lab.store import DONE, EpochResult, RunStore
from schedlab.lab.tracking import Recorder, Tracker
from schedlab.schedules.plateau import policy_from_spec

if TYPE_CHECKING:
    from schedlab.lab.backends import SweepBackend

#: called with (member-epochs done, member-epochs to do) during :func:`run_sweep`.
ProgressFn = Callable[[int, int], None]
_LABELLED = re.compile(r"^\s*([A-Za-z0-9_.+\-]+)\s*=(?!=)\s*(.+)$", re.DOTALL)


def split_label(text: str) -> tuple[str | None, str]:
    """``"cos=cosine(lr=0.1, steps=10)"`` -> ``("cos", "cosine(...)")``; no label -> ``(None, text)``."""
    match = _LABELLED.match(text)
    if match and not text.lstrip().startswith(("{", "[")):
        return match.group(1), match.group(2).strip()
    return None, text.strip()


def canonical_schedule(spec: str | dict) -> str:
    """The canonical text form of a spec (its identity in the store), e.g.
    ``"cosine(0.1, 10)"`` -> ``"cosine(lr=0.1, steps=10, min_lr=0.0)"``.  Plateau specs allowed."""
    return repr(policy_from_spec(spec))


@dataclass(frozen=True)
class SweepPlan:
    """A sweep to run: ``schedules`` as ``(label, canonical text)``, each trained with every seed."""

    name: str
    config: TrainConfig
    schedules: tuple[tuple[str, str], ...]
    seeds: tuple[int, ...]

    def runs(self) -> list[tuple[str, str, int]]:
        """``(label, schedule, seed)`` of every run, schedule-major."""
        return [(label, spec, seed) for label, spec in self.schedules for seed in self.seeds]

    def to_dict(self) -> dict[str, Any]:
        """What the store keeps as the sweep's config."""
        return {
            "config": self.config.to_dict(),
            "schedules": [{"label": label, "schedule": spec} for label, spec in self.schedules],
            "seeds": list(self.seeds),
        }


def make_plan(
    config: TrainConfig,
    schedules: Sequence[tuple[str | None, str | dict] | str | dict],
    seeds: Sequence[int],
    name: str | None = None,
) -> SweepPlan:
    """Validate the schedules (``"label=SPEC"`` or ``(label, spec)``; labels default to the spec as
    written) and name the sweep.

    The default name is ``{dataset}-{model}-{optimizer}-{hash8}`` where the hash covers the config,
    the schedules and the seeds, so the same command names the same sweep.
    """
    pairs: list[tuple[str, str]] = []
    for item in schedules:
        label, spec = item if isinstance(item, tuple) else (None, item)
        if label is None and isinstance(spec, str):
            label, spec = split_label(spec)
        try:
            text = canonical_schedule(spec)
        except ValueError as err:
            raise ValueError(f"schedule {spec!r}: {err}") from None
        if label is None:
            label = spec.strip() if isinstance(spec, str) else text
        pairs.append((label, text))
    _unique("label", [p[0] for p in pairs])
    _unique("schedule", [p[1] for p in pairs])
    if not pairs:
        raise ValueError("sweep: give at least one schedule")
    if not seeds:
        raise ValueError("sweep: give at least one seed")
    body = {"config": config.to_dict(), "schedules": pairs, "seeds": list(seeds)}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    default = f"{config.dataset}-{config.model}-{config.optimizer}-{digest}"
    return SweepPlan(name or default, config, tuple(pairs), tuple(int(s) for s in seeds))


def _unique(what: str, values: list[str]) -> None:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"sweep: each {what} must appear once; repeated: {', '.join(dupes)}")


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


def dump_state(state: dict) -> bytes:
    """``torch.save`` bytes of a member state."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_state(blob: bytes) -> dict:
    """Inverse of :func:`dump_state` (unpickles: load only checkpoints you wrote)."""
    import torch

    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)


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
            raise ValueError(
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


def pending_groups(store: RunStore, run_ids: Sequence[int], epochs: int) -> dict[int, list[int]]:
    """Unfinished runs grouped by the epoch they continue from (0 = start from scratch), each
    group ordered by seed (stable)."""
    rows = {r["id"]: r for r in store.runs(id=list(run_ids))}
    groups: dict[int, list[int]] = {}
    for run_id in run_ids:
        if rows[run_id]["status"] in DONE:
            continue
        ck = store.checkpoint(run_id)
        start = ck[0] if ck and ck[0] == rows[run_id]["epochs_done"] and ck[0] < epochs else 0
        groups.setdefault(start, []).append(run_id)
    for ids in groups.values():  # seed by seed: members with one seed share their minibatches
        ids.sort(key=lambda r: int(rows[r]["seed"]))
    return groups


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
) -> SweepOutcome:
    """Run (or resume) ``plan`` into ``store``; up to ``group_size`` runs train together.

    ``backend``: where the groups train (``None``: one after the other in this process; e.g.
    :class:`schedlab.lab.backends.ray_backend.RayBackend`); this process alone writes the store.
    ``trackers``: mirrors (MLflow, TensorBoard, ...) called after the store as epochs finish.
    """
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"run_sweep: group_size must be an integer >= 1; got {group_size!r}")
    with exclusive(store):
        return _run_sweep(store, plan, device, group_size, data_root, progress, backend, trackers)


def _run_sweep(
    store: RunStore,
    plan: SweepPlan,
    device: str,
    group_size: int,
    data_root: str | None,
    progress: ProgressFn | None,
    backend: SweepBackend | None,
    trackers: Sequence[Tracker],
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
    from schedlab.lab.datasets import load_dataset

    dataset = load_dataset(
        config.dataset, root=data_root, train_size=config.train_size,
        val_fraction=config.val_fraction, seed=config.data_seed,
    )  # fmt: skip
    done = 0
    if progress:
        progress(0, total)
    recorder = Recorder(store, plan.name, trackers)
    if backend is not None:
        steps: Any = backend.train(recorder, config, dataset, groups, group_size, device)
    else:
        steps = (
            n
            for start in sorted(groups, reverse=True)  # nearly finished runs first
            for i in range(0, len(groups[start]), group_size)
            for n in _train_group(
                store, config, dataset, groups[start][i : i + group_size], start, device, recorder
            )
        )
    for n in steps:
        done += n
        if progress:
            progress(done, total)
    resumed = sum(len(g) for s, g in groups.items() if s > 0)
    return SweepOutcome(plan.name, tuple(ids), outcome.skipped, resumed, todo - resumed, done)


def group_members(
    store: RunStore, run_ids: Sequence[int], start: int
) -> tuple[list[Member], list[bytes] | None]:
    """The members of a group of stored runs and, when ``start > 0``, their checkpoints."""
    rows = {r["id"]: r for r in store.runs(id=list(run_ids))}
    members = [Member(schedule=rows[r]["schedule"], seed=int(rows[r]["seed"])) for r in run_ids]
    if start == 0:
        return members, None
    return members, [store.checkpoint(r)[1] for r in run_ids]  # type: ignore[index]


def train_epochs(
    config: TrainConfig,
    dataset: Any,
    members: Sequence[Member],
    states: Sequence[bytes] | None,
    device: str,
) -> Iterator[tuple[list[Any], list[bytes], bool]]:
    """Train ``members`` (restored from checkpoint bytes ``states``) to the end, yielding after each
    epoch ``(records, checkpoints, finished)``.  Pure: no store (any backend's worker runs this)."""
    from schedlab.lab.trainer import BatchedTrainer

    loaded = None if states is None else [load_state(blob) for blob in states]
    trainer = BatchedTrainer(config, dataset, members, device=device, states=loaded)
    while trainer.epoch < config.epochs:
        records = trainer.run_epoch()
        blobs = [dump_state(trainer.member_state(i)) for i in range(len(members))]
        yield records, blobs, trainer.epoch >= config.epochs


def _train_group(
    store: RunStore,
    config: TrainConfig,
    dataset: Any,
    run_ids: list[int],
    start: int,
    device: str,
    recorder: Recorder | None = None,
):
    """Train one group of runs from epoch ``start`` to the end; yield member-epochs per epoch."""
    recorder = recorder or Recorder(store)
    members, states = group_members(store, run_ids, start)
    recorder.start(run_ids, start)
    status = "interrupted"
    try:
        for records, blobs, finished in train_epochs(config, dataset, members, states, device):
            recorder.epoch([
                EpochResult(run_id, rec, blob, finished)
                for run_id, rec, blob in zip(run_ids, records, blobs, strict=True)
            ])  # fmt: skip
            yield len(run_ids)
    except Exception:
        status = "failed"
        raise
    finally:
        recorder.end_all(run_ids, status)
