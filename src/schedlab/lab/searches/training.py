"""Training the runs of a search: stored runs advanced to a given epoch, and forks.

The search trains through the sweep room's pieces (:func:`~schedlab.lab.sweeps.groups.pending_groups`,
:func:`~schedlab.lab.sweeps.groups.train_group`, the recorder), so every epoch of a group is one
transaction in the run store and a killed search resumes from its checkpoints like a sweep.  Two
things are its own: a run may be trained part of the way (a trunk, to the epoch where runs fork
from it), and a run may start as a *fork*, with the first epochs and the checkpoint of another
run that shares them (see :mod:`schedlab.lab.searches.rungs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from schedlab.lab.runs.store import DONE, EpochResult, RunStore
from schedlab.lab.runs.tracking import Recorder, stored_epochs
from schedlab.lab.sweeps.groups import pending_groups, train_group
from schedlab.lab.train.checkpoint import dump_state, load_state
from schedlab.lab.train.loop import with_schedule
from schedlab.lab.train.setup import TrainSetup


def advance(
    store: RunStore,
    setup: TrainSetup,
    dataset: Any,
    run_ids: Sequence[int],
    until: int | None = None,
    *,
    device: str,
    group_size: int,
    recorder: Recorder,
    on_epoch: Callable[[int], None] | None = None,
) -> int:
    """Train stored runs of ``setup`` from where they are (resuming checkpoints) to epoch
    ``until`` (default: the end), ``group_size`` runs per batched trainer; member-epochs trained."""
    until = setup.epochs if until is None else min(until, setup.epochs)
    groups = pending_groups(store, list(dict.fromkeys(run_ids)), setup.epochs)
    trained = 0
    for start in sorted(groups):
        if start >= until:
            continue
        todo = groups[start]
        for lo in range(0, len(todo), group_size):
            chunk = todo[lo : lo + group_size]
            epoch = start
            epochs = train_group(store, setup, dataset, chunk, start, device, recorder)
            try:
                for n in epochs:
                    trained += n
                    epoch += 1
                    if on_epoch:
                        on_epoch(n)
                    if epoch >= until:
                        break
            finally:
                epochs.close()  # a trunk stops here: its runs stay unfinished, checkpointed
    return trained


def epochs_done(store: RunStore, run_id: int) -> int:
    """How many epochs of the run are committed."""
    return store.runs(id=run_id)[0].epochs_done


def fork(
    store: RunStore,
    donor: int,
    target: int,
    epochs: int,
    *,
    schedule: str,
    length: int,
    unit: str,
    steps_per_epoch: int,
) -> bool:
    """Start run ``target`` (of ``length`` epochs, schedule ``schedule``) as a copy of the first
    ``epochs`` epochs of run ``donor``, which must be at that epoch with its checkpoint: the
    epochs' records (rates, metrics; no training time) and the checkpoint, rebased on
    ``schedule``, in one transaction.  ``False`` (nothing written) when ``target`` has begun
    already or ``donor`` is not at ``epochs``."""
    row = store.runs(id=target)[0]
    if row.epochs_done > 0 or row.status in DONE:
        return False
    ck = store.checkpoint(donor)
    if ck is None or ck[0] != epochs or epochs_done(store, donor) != epochs:
        return False
    records = [dataclasses.replace(r, seconds=0.0) for r in stored_epochs(store, donor)[:epochs]]
    state = with_schedule(load_state(ck[1]), schedule, unit, steps_per_epoch)
    done = epochs >= length
    results = [EpochResult(target, rec, None, False) for rec in records[:-1]]
    results.append(EpochResult(target, records[-1], dump_state(state), done))
    store.commit_epoch(results)
    return True
