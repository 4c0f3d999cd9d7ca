"""The per-run engine: each run of a group trains alone in the plain loop
(:class:`~schedlab.lab.train.single.SingleRun`), in this process or in worker processes.

With ``workers > 1`` the runs of an epoch train in parallel in that many worker processes
(``spawn``; the task travels with ``cloudpickle``, so a factory defined in a script or a lambda
works); each worker gets a run's checkpoint, trains one epoch and sends back the record and the
new checkpoint.  Each worker uses ``torch.get_num_threads() // workers`` threads (at least 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import torch

from schedlab.errors import ConfigError
from schedlab.lab.train import loop
from schedlab.lab.train.checkpoint import dump_state, load_state
from schedlab.lab.train.config import Member
from schedlab.lab.train.records import EpochRecord
from schedlab.lab.train.single import SingleRun

if TYPE_CHECKING:
    from schedlab.lab.train.task import UserTask

_WORKER: dict[str, Any] = {}


def _init_worker(task_blob: bytes, threads: int) -> None:
    import cloudpickle

    torch.set_num_threads(threads)
    _WORKER["task"] = cloudpickle.loads(task_blob)


def _train_one(
    member: Member, index: int, state: bytes | None, device: str
) -> tuple[EpochRecord, bytes]:
    run = SingleRun(
        _WORKER["task"], member, index, device=torch.device(device),
        state=None if state is None else load_state(state),
    )  # fmt: skip
    rec = run.train_epoch()
    return rec, dump_state(run.state())


class PerRunTrainer:
    """Trains ``members`` of ``task`` one run at a time (or ``workers`` at a time in worker
    processes), each exactly as the plain loop; ``reason`` says why this engine was chosen."""

    def __init__(
        self,
        task: UserTask,
        members: Sequence[Member],
        *,
        device: torch.device,
        states: Sequence[dict | None] | None = None,
        workers: int = 1,
        reason: str = "",
    ) -> None:
        self.task, self.members, self.device = task, tuple(members), device
        states = list(states) if states is not None else [None] * len(members)
        self._epoch = loop.same_epoch(states)
        self.workers = max(1, min(int(workers), len(members)))
        self.engine = f"per-run ({reason})" if reason else "per-run"
        if self.workers > 1:
            self.engine += f", {self.workers} worker processes"
            self._states: list[bytes | None] = [
                None if s is None else dump_state(s) for s in states
            ]
            self._runs: list[SingleRun] = []
            self._pool = self._start_pool()
        else:
            self._runs = [
                SingleRun(task, m, i, device=device, state=s)
                for i, (m, s) in enumerate(zip(self.members, states, strict=True))
            ]

    def _start_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        import cloudpickle

        threads = max(1, torch.get_num_threads() // self.workers)
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(cloudpickle.dumps(self.task), threads),
        )  # fmt: skip

    @property
    def epoch(self) -> int:
        """The next epoch to run (0-based)."""
        return self._epoch

    def run_epoch(self) -> list[EpochRecord]:
        """Train every run one epoch (in order, or in parallel); one record per run."""
        if self.workers > 1:
            futures = [
                self._pool.submit(_train_one, m, i, self._states[i], str(self.device))
                for i, m in enumerate(self.members)
            ]
            records = []
            for i, future in enumerate(futures):
                rec, blob = future.result()
                self._states[i] = blob
                records.append(rec)
        else:
            records = [run.train_epoch() for run in self._runs]
        self._epoch += 1
        return records

    def member_state(self, i: int) -> dict:
        """Run ``i``'s checkpoint."""
        if self.workers > 1:
            blob = self._states[i]
            if blob is None:
                raise ConfigError(f"member {i} has no state yet: run an epoch first")
            return load_state(blob)
        return self._runs[i].state()

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        if self.workers > 1:
            self._pool.shutdown(cancel_futures=True)

    def __del__(self) -> None:  # pragma: no cover - best effort when dropped unclosed
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
