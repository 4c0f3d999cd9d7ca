"""The Ray backend: each group of runs is one Ray task that streams its epochs back to the driver.

A group (up to ``group_size`` runs that continue from the same epoch) becomes a Ray *generator*
task sized to one worker (``num_cpus`` = the cluster's CPUs / ``workers``; with ``device="cuda"``
also ``num_gpus`` = its GPUs / ``workers``, at most 1).  The task runs
:func:`schedlab.lab.sweeps.groups.train_epochs` -- the very code of the local backend -- and yields
``(records, checkpoints, finished, engine)`` after every epoch; the driver commits each one to the run
store (and the trackers) as it arrives, so the store has one writer and the same checkpoints as a
local sweep: a sweep started on one backend resumes on the other.

Fault tolerance: Ray does not retry the task itself (``max_retries=0``).  When a worker or node
dies, the driver restarts the group from the store's last committed checkpoint (up to
``max_retries`` times per group), so nothing is trained twice, lost, or written twice.  A Python
error inside the task is not retried: its runs are marked ``failed`` and the error is raised.
A worker runs at most ``backpressure`` epochs ahead of the driver's commits.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.runs.store import EpochResult
from schedlab.lab.runs.tracking import Recorder
from schedlab.lab.sweeps.backends.shipping import ship, unship
from schedlab.lab.sweeps.groups import group_members, pending_groups, train_epochs
from schedlab.lab.train.config import Member
from schedlab.lab.train.setup import Data, TrainSetup

#: the process title of a worker running a group (``ray::group_task``), e.g. for ``ps``.
TASK_NAME = "group_task"


@dataclass(frozen=True)
class _Job:
    run_ids: tuple[int, ...]
    start: int
    retries: int = 0


def _writable(dataset: Data) -> Data:
    """The dataset with its numpy arrays copied out of Ray's read-only shared memory."""
    if not dataclasses.is_dataclass(dataset):
        return dataset
    arrays = {
        f.name: np.array(getattr(dataset, f.name))
        for f in dataclasses.fields(dataset)
        if isinstance(getattr(dataset, f.name), np.ndarray)
    }
    return dataclasses.replace(dataset, **arrays)


def group_task(
    config: TrainSetup,
    dataset: Data,
    members: Sequence[Member],
    states: Sequence[bytes] | None,
    device: str,
    threads: int,
) -> Iterator[tuple[list[Any], list[bytes], bool, str]]:
    """The body of a Ray task: train one group, yielding each epoch (see :func:`train_epochs`)."""
    import torch

    torch.set_num_threads(threads)
    config, dataset = unship(config), unship(dataset)
    yield from train_epochs(config, _writable(dataset), members, states, device)


def _check_int(name: str, value: Any, low: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"ray backend: {name} must be an integer >= {low}; got {value!r}")


class RayBackend:
    """Train a sweep's groups as Ray tasks.

    Args:
        address: Ray cluster to join: ``None`` uses ``RAY_ADDRESS`` if set, else starts a
            private local cluster (all this machine's CPUs, no dashboard; shut down at the end);
            ``"auto"`` or ``"host:6379"`` joins a cluster this machine belongs to;
            ``"ray://host:10001"`` goes through Ray Client.  When Ray is already initialised in
            this process, that connection is used as it is.
        workers: groups trained at the same time (default: one per GPU for ``cuda``, else one
            per CPU of the cluster); each task asks for ``CPUs / workers`` CPUs (at least 1).
        max_retries: restarts per group after a worker or node died.
        backpressure: epochs a task may run ahead of the driver's commits.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        max_retries: int = 3,
        backpressure: int = 2,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigError(
                "ray backend: address must be 'auto', 'host:port' or 'ray://host:port'; "
                f"got {address!r}"
            )
        _check_int("workers", workers, 1, allow_none=True)
        _check_int("max_retries", max_retries, 0)
        _check_int("backpressure", backpressure, 1)
        self.address = address
        self.workers = workers
        self.max_retries = max_retries
        self.backpressure = backpressure

    # -- cluster ----------------------------------------------------------------------------------
    def _connect(self) -> bool:
        """Initialise Ray unless it is; True when this call started the connection."""
        import ray

        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS")
        if address is None:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        elif address.startswith("ray://"):
            ray.init(address)
        else:
            ray.init(address, log_to_driver=False)
        return True

    def resources(self, device: str) -> tuple[int, int, float]:
        """``(workers, num_cpus, num_gpus)`` per task on the connected cluster."""
        import ray

        total = ray.cluster_resources()
        cpus, gpus = int(total.get("CPU", 1)), float(total.get("GPU", 0))
        cuda = device.startswith("cuda")
        if cuda and gpus <= 0:
            raise ConfigError(f"ray backend: device {device!r} but the Ray cluster has no GPU")
        workers = self.workers or max(1, int(gpus) if cuda else cpus)
        per_gpu = round(min(1.0, gpus / workers), 4) if cuda else 0.0
        return workers, max(1, cpus // workers), per_gpu

    # -- the SweepBackend interface ---------------------------------------------------------------
    def train(
        self,
        recorder: Recorder,
        config: TrainSetup,
        dataset: Data,
        groups: Mapping[int, Sequence[int]],
        group_size: int,
        device: str,
    ) -> Iterator[int]:
        """Train ``groups`` on the cluster; yield member-epochs as each group epoch is committed."""
        import ray

        started_here = self._connect()
        try:
            yield from self._run(ray, recorder, config, dataset, groups, group_size, device)
        finally:
            if started_here:
                ray.shutdown()

    def _run(
        self,
        ray: Any,
        recorder: Recorder,
        config: TrainSetup,
        dataset: Data,
        groups: Mapping[int, Sequence[int]],
        group_size: int,
        device: str,
    ) -> Iterator[int]:
        from ray.exceptions import RayError, RayTaskError

        workers, cpus, gpus = self.resources(device)
        queue: deque[_Job] = deque()
        for start in sorted(groups, reverse=True):  # nearly finished runs first
            ids = list(groups[start])
            size = max(1, min(group_size, math.ceil(len(ids) / workers)))
            queue.extend(_Job(tuple(ids[i : i + size]), start) for i in range(0, len(ids), size))
        task = ray.remote(group_task).options(
            name=TASK_NAME, num_cpus=cpus, num_gpus=gpus, max_retries=0,
            _generator_backpressure_num_objects=self.backpressure,
        )  # fmt: skip
        data = ray.put(ship(dataset))
        shipped = ship(config)
        active: dict[Any, _Job] = {}

        def submit(job: _Job) -> None:
            members, states = group_members(recorder.store, job.run_ids, job.start)
            recorder.start(job.run_ids, job.start)
            active[task.remote(shipped, data, members, states, device, cpus)] = job

        try:
            while queue or active:
                while queue and len(active) < workers:
                    submit(queue.popleft())
                (gen,), _ = ray.wait(list(active), num_returns=1)
                job = active[gen]
                try:
                    records, blobs, finished, engine = ray.get(next(gen))
                except StopIteration:
                    del active[gen]
                    continue
                except RayTaskError as err:  # the training code raised: not retried
                    del active[gen]
                    recorder.end_all(job.run_ids, "failed")
                    raise err.as_instanceof_cause() from None
                except RayError as err:  # a worker or node died: resume from the store
                    del active[gen]
                    if job.retries >= self.max_retries:
                        recorder.end_all(job.run_ids, "failed")
                        raise RuntimeError(
                            f"ray backend: runs {list(job.run_ids)} failed {job.retries + 1} "
                            f"times (max_retries={self.max_retries}): {err}"
                        ) from err
                    recorder.end_all(job.run_ids, "interrupted")
                    store = recorder.store
                    again = pending_groups(store, list(job.run_ids), config.epochs)
                    queue.extendleft(
                        _Job(tuple(ids), start, job.retries + 1) for start, ids in again.items()
                    )
                    continue
                recorder.note_engine(engine)
                recorder.epoch([
                    EpochResult(run_id, rec, blob, finished)
                    for run_id, rec, blob in zip(job.run_ids, records, blobs, strict=True)
                ])  # fmt: skip
                yield len(job.run_ids)
        except BaseException:  # an error, or the caller stopped (Ctrl-C): stop every task
            for gen, job in active.items():
                ray.cancel(gen, force=True)
                recorder.end_all(job.run_ids, "interrupted")
            raise
