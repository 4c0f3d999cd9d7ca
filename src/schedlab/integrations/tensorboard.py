"""TensorBoard: per-run event files, live (:class:`TensorBoardTracker`) or afterwards
(:func:`export_tensorboard`).

Each run writes to ``{logdir}/{sweep}/{label}/seed={seed}`` (names made path-safe) with scalars

* ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val`` (classification) and
  ``lr/epoch`` (rate at the epoch's last optimizer step), ``step`` = the 0-based epoch;
* ``lr/step``: the rate at every optimizer step, ``step`` = the global optimizer step;

and a text summary ``run`` with the run's parameters.  A run that (re)starts first removes its
earlier event files, so the folder always mirrors the store (no duplicated or orphaned steps).
View with ``tensorboard --logdir {logdir}``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.runs.store import EpochResult, RunStore
from schedlab.lab.runs.tracking import RunInfo, replay

#: scalar tag -> EpochRecord field, logged at step = epoch
EPOCH_SCALARS: dict[str, str] = {
    "loss/train": "train_loss", "loss/val": "val_loss", "accuracy/train": "train_acc",
    "accuracy/val": "val_acc", "lr/epoch": "lr",
}  # fmt: skip
_EVENTS = "events.out.tfevents.*"


def _safe(name: str) -> str:
    """A path-safe folder name; names that had to change get a short hash (no collisions)."""
    safe = re.sub(r"[^A-Za-z0-9._=+-]+", "_", name).strip("._") or "run"
    return safe if safe == name else f"{safe[:80]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def run_dir(logdir: str | os.PathLike, run: RunInfo) -> Path:
    """The event folder of ``run``: ``{logdir}/{sweep}/{label}/seed={seed}``."""
    return Path(logdir) / _safe(run.sweep) / _safe(run.label) / f"seed={run.seed}"


class TensorBoardTracker:
    """Write TensorBoard event files as runs train (a :class:`~schedlab.lab.runs.tracking.Tracker`)."""

    def __init__(self, logdir: str | os.PathLike) -> None:
        if not isinstance(logdir, (str, os.PathLike)) or not str(logdir):
            raise ConfigError(f"tensorboard: logdir must be a folder path; got {logdir!r}")
        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise ConfigError(f"tensorboard: logdir must be a folder; got the file {str(logdir)!r}")
        self._writers: dict[int, Any] = {}
        self._steps: dict[int, int] = {}

    def start_run(self, run: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = run_dir(self.logdir, run)
        self.end_run(run, "interrupted")  # a writer left open by an earlier attempt
        for old in folder.glob(_EVENTS):
            old.unlink()
        writer = SummaryWriter(log_dir=str(folder))
        table = "\n".join(f"| {k} | `{v}` |" for k, v in run.params().items())
        writer.add_text("run", f"| parameter | value |\n|---|---|\n{table}", 0)
        self._writers[run.run_id] = writer
        self._steps[run.run_id] = 0

    def log_epoch(self, results: Sequence[EpochResult]) -> None:
        for res in results:
            writer, rec = self._writers[res.run_id], res.record
            for tag, field in EPOCH_SCALARS.items():
                value = getattr(rec, field)
                if value is not None:
                    writer.add_scalar(tag, float(value), int(rec.epoch))
            offset = self._steps[res.run_id]
            for i, lr in enumerate(rec.step_lrs):
                writer.add_scalar("lr/step", float(lr), offset + i)
            self._steps[res.run_id] = offset + len(rec.step_lrs)
            writer.flush()

    def end_run(self, run: RunInfo, status: str) -> None:
        writer = self._writers.pop(run.run_id, None)
        if writer is not None:
            writer.add_text("status", status, self._steps.pop(run.run_id, 0))
            writer.close()


def export_tensorboard(
    store: RunStore, logdir: str | os.PathLike, sweep: str | None = None, **filters: Any
) -> list[Path]:
    """Write event files for stored runs (one sweep, or all; ``filters`` as in
    :meth:`RunStore.runs`) under ``logdir``; returns the run folders."""
    tracker = TensorBoardTracker(logdir)
    return [run_dir(logdir, info) for info in replay(store, tracker, sweep, **filters)]
