"""Crash safety: a real `schedlab compare` process killed with SIGKILL mid-sweep, then rerun.

No finished run is lost or repeated, the interrupted runs continue from their checkpoints, and the
final metrics equal those of an uninterrupted sweep with the same seeds.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
import torch
from sigkill import sigkill_when

from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.sweeps.settings import build_settings

EPOCHS = 8
SETTINGS = {
    "dataset": "digits", "model": "mlp", "optimizer": "sgd", "momentum": 0.9,
    "epochs": EPOCHS, "batch_size": 8, "train_size": 800, "seeds": "0,1",
    "group_size": 2, "name": "crash",
}  # fmt: skip
SCHEDULES = [
    "const=constant(0.02)",
    "cos=cosine(lr=0.05, steps=8)",
    "step=step(0.05, 3, gamma=0.5)",
]


def _command(store, out) -> list[str]:
    args = [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS.items()]
    args += [f"--schedule={s}" for s in SCHEDULES]
    code = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"
    return [sys.executable, "-c", code, "compare", *args, f"--store={store}", f"--out={out}",
            "--no-report"]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _snapshot(path) -> dict[int, tuple]:
    """run id -> (status, epochs_done, attempts, finished, epoch rows with commit times)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        out = {}
        for rid, status, done, attempts, finished in db.execute(
            "SELECT id, status, epochs_done, attempts, finished FROM runs ORDER BY id"
        ):
            epochs = db.execute(
                "SELECT epoch, val_loss, val_acc, committed FROM epochs WHERE run_id=? ORDER BY epoch",
                (rid,),
            ).fetchall()
            out[rid] = (status, done, attempts, finished, epochs)
        return out
    finally:
        db.close()


def _mid_sweep(path) -> bool:
    """True once some run has finished and another is part-way (epochs committed, not done)."""
    if not path.exists():
        return False
    try:
        runs = _snapshot(path)
    except sqlite3.DatabaseError:  # file or tables not created yet
        return False
    states = [(s, d) for s, d, *_ in runs.values()]
    return any(s == "finished" for s, _ in states) and any(0 < d < EPOCHS for _, d in states)


def test_sigkill_mid_sweep_then_resume(tmp_path) -> None:
    store_path = tmp_path / "runs.sqlite"
    proc = subprocess.Popen(
        _command(store_path, tmp_path / "out"), env=_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    sigkill_when(proc, lambda: _mid_sweep(store_path), "an epoch committed", 240)
    before = _snapshot(store_path)
    finished = {rid: row for rid, row in before.items() if row[0] == "finished"}
    # usually a run is part-way; in a rare race the kill lands just after a group ended
    partial = {rid for rid, row in before.items() if 0 < row[1] < EPOCHS}
    assert finished and len(finished) < len(before)
    assert all(len(row[4]) == row[1] for row in before.values())  # epochs committed = epochs_done

    rerun = subprocess.run(
        _command(store_path, tmp_path / "out"), env=_env(), capture_output=True, text=True,
        cwd=tmp_path, timeout=400,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"({len(finished)} already done, {len(partial)} resumed" in rerun.stdout
    after = _snapshot(store_path)
    for rid, row in finished.items():
        assert after[rid] == row  # not lost, not repeated: same rows, same commit times
    for rid, (status, done, attempts, _, epochs) in after.items():
        assert (status, done, len(epochs)) == ("finished", EPOCHS, EPOCHS)
        # each unfinished run is started once more (whether it had begun or not)
        assert attempts == before[rid][2] + (rid not in finished)
        if rid in partial:  # epochs committed before the kill were kept as they were
            assert epochs[: before[rid][1]] == before[rid][4]

    # the same sweep uninterrupted, in this process
    settings = build_settings({}, {**SETTINGS, "schedules": SCHEDULES})
    plan = make_plan(settings.config, settings.schedules, settings.seeds, settings.name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess (OMP_NUM_THREADS=1)
    try:
        with RunStore(tmp_path / "full.sqlite") as full:
            run_sweep(full, plan, group_size=2)
            expected = _snapshot(full.path)
    finally:
        torch.set_num_threads(threads)
    assert len(expected) == len(after) == 6
    for (_, want), (_, got) in zip(sorted(expected.items()), sorted(after.items()), strict=True):
        for (e1, loss1, acc1, _), (e2, loss2, acc2, _) in zip(want[4], got[4], strict=True):
            assert e1 == e2
            assert loss2 == pytest.approx(loss1, rel=1e-5, abs=1e-6)
            assert acc2 == pytest.approx(acc1, abs=1e-9)
