"""Groups of stored runs that train together, and the loop that trains one group.

:func:`pending_groups` sorts a plan's unfinished runs by the epoch they continue from;
:func:`train_epochs` trains one group and yields after every epoch (no store: any backend's worker
runs it); :func:`train_group` drives it in this process and records every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from schedlab.lab.runs.store import DONE, EpochResult, RunStore
from schedlab.lab.runs.tracking import Recorder
from schedlab.lab.train.checkpoint import dump_state, load_state
from schedlab.lab.train.config import Member
from schedlab.lab.train.setup import Data, TrainSetup, group_trainer


def pending_groups(store: RunStore, run_ids: Sequence[int], epochs: int) -> dict[int, list[int]]:
    """Unfinished runs grouped by the epoch they continue from (0 = start from scratch), each
    group ordered by seed (stable)."""
    rows = {r.id: r for r in store.runs(id=list(run_ids))}
    groups: dict[int, list[int]] = {}
    for run_id in run_ids:
        if rows[run_id].status in DONE:
            continue
        ck = store.checkpoint(run_id)
        start = ck[0] if ck and ck[0] == rows[run_id].epochs_done and ck[0] < epochs else 0
        groups.setdefault(start, []).append(run_id)
    for ids in groups.values():  # seed by seed: members with one seed share their minibatches
        ids.sort(key=lambda r: int(rows[r].seed))
    return groups


def group_members(
    store: RunStore, run_ids: Sequence[int], start: int
) -> tuple[list[Member], list[bytes] | None]:
    """The members of a group of stored runs and, when ``start > 0``, their checkpoints."""
    rows = {r.id: r for r in store.runs(id=list(run_ids))}
    members = [Member(schedule=rows[r].schedule, seed=int(rows[r].seed)) for r in run_ids]
    if start == 0:
        return members, None
    return members, [store.checkpoint(r)[1] for r in run_ids]  # type: ignore[index]


def train_epochs(
    config: TrainSetup,
    dataset: Data,
    members: Sequence[Member],
    states: Sequence[bytes] | None,
    device: str,
) -> Iterator[tuple[list[Any], list[bytes], bool, str]]:
    """Train ``members`` (restored from checkpoint bytes ``states``) to the end, yielding after each
    epoch ``(records, checkpoints, finished, engine)``.  Pure: no store (any backend's worker
    runs this)."""
    loaded = None if states is None else [load_state(blob) for blob in states]
    trainer = group_trainer(config, dataset, members, device=device, states=loaded)
    while trainer.epoch < config.epochs:
        records = trainer.run_epoch()
        blobs = [dump_state(trainer.member_state(i)) for i in range(len(members))]
        yield records, blobs, trainer.epoch >= config.epochs, trainer.engine


def train_group(
    store: RunStore,
    config: TrainSetup,
    dataset: Data,
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
        for records, blobs, finished, engine in train_epochs(
            config, dataset, members, states, device
        ):
            recorder.note_engine(engine)
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
