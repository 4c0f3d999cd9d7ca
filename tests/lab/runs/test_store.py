"""The SQLite run store: schema, identity of runs, one transaction per epoch, NaN and blobs."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from schedlab.lab.runs.store import _SCHEMA, SCHEMA_VERSION, EpochResult, RunStore
from schedlab.lab.train.trainer import EpochRecord

CONFIG = {"dataset": "digits", "model": "mlp", "optimizer": "sgd", "epochs": 2}
HASH = "a" * 64


def rec(epoch: int, loss: float = 0.5, lrs=(0.1, 0.1, 0.05)) -> EpochRecord:
    return EpochRecord(
        member=0, epoch=epoch, train_loss=loss, train_acc=0.8, val_loss=loss, val_acc=0.75,
        lr=lrs[-1], step_lrs=np.array(lrs), diverged=math.isnan(loss), seconds=1.5,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as s:
        s.ensure_sweep("sw", {"k": 1})
        yield s


def test_schema_version_wal_and_reopen(tmp_path) -> None:
    path = tmp_path / "sub" / "runs.sqlite"
    with RunStore(path) as s:
        s.ensure_sweep("sw", {"k": 1})
        s.ensure_runs("sw", CONFIG, HASH, [("c", "constant(lr=0.1)", 0)])
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sweeps", "runs", "sweep_runs", "epochs", "step_lrs", "checkpoints"} <= tables
    db.close()
    with RunStore(path) as s:
        assert [r.label for r in s.runs("sw")] == ["c"]
        assert s.sweeps()[0].config == {"k": 1} and s.sweeps()[0].runs == 1


def test_refuses_foreign_and_newer_files(tmp_path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="is an SQLite file but not a schedlab run store"):
        RunStore(other)
    newer = tmp_path / "newer.sqlite"
    RunStore(newer).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match=f"schema version {SCHEMA_VERSION + 1}; this schedlab"):
        RunStore(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="is not a schedlab run store"):
        RunStore(junk)
    with pytest.raises(ValueError, match="must be a file, got the directory"):
        RunStore(tmp_path)


def test_run_identity_is_shared_across_sweeps(store) -> None:
    plan = [("c", "constant(lr=0.1)", 0), ("c", "constant(lr=0.1)", 1)]
    first = store.ensure_runs("sw", CONFIG, HASH, plan)
    assert store.ensure_runs("sw", CONFIG, HASH, plan) == first  # idempotent
    store.ensure_sweep("other", {"k": 2})
    again = store.ensure_runs("other", CONFIG, HASH, [("const", "constant(lr=0.1)", 1)])
    assert again == [first[1]]  # the same run, under another label in another sweep
    assert [r.label for r in store.runs(id=first[1])] == ["c", "const"]
    assert store.ensure_runs("other", CONFIG, "b" * 64, [("c", "constant(lr=0.1)", 1)]) != again
    with pytest.raises(
        ValueError, match="sweep 'sw' already exists with a different configuration"
    ):
        store.ensure_sweep("sw", {"k": 3})
    with pytest.raises(ValueError, match="no sweep named 'zz'; known: 'sw', 'other'"):
        store.ensure_runs("zz", CONFIG, HASH, plan)


def test_commit_epoch_writes_everything_and_finishes(store) -> None:
    (run,) = store.ensure_runs("sw", CONFIG, HASH, [("c", "constant(lr=0.1)", 0)])
    store.start_runs([run], restart=True)
    store.commit_epoch([EpochResult(run, rec(0), b"state-0", done=False)])
    row = store.runs(id=run)[0]
    assert (row.status, row.epochs_done, row.attempts, row.finished) == (
        "running",
        1,
        1,
        None,
    )
    assert store.checkpoint(run) == (1, b"state-0")
    store.commit_epoch([EpochResult(run, rec(1, lrs=(0.05, 0.01)), b"state-1", done=True)])
    row = store.runs(id=run)[0]
    assert row.status == "finished" and row.epochs_done == 2 and row.finished
    assert row.seconds == pytest.approx(3.0)
    assert store.checkpoint(run) == (2, b"state-1")  # latest only
    assert store.step_lrs(run).tolist() == [0.1, 0.1, 0.05, 0.05, 0.01]
    epochs = store.epochs(run)
    assert [e.epoch for e in epochs] == [0, 1]
    assert epochs[1].to_dict() == {
        "epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.5, "val_acc": 0.75,
        "lr": 0.01, "seconds": 1.5, "diverged": False, "extra": {},
    }  # fmt: skip


def test_user_metrics_round_trip_with_nan(store) -> None:
    (run,) = store.ensure_runs("sw", CONFIG, HASH, [("c", "constant(lr=0.1)", 0)])
    store.start_runs([run], restart=True)
    first = rec(0)
    first.extra = {"val_f1": 0.25, "val_auc": math.nan}
    store.commit_epoch([EpochResult(run, first, None, False)])
    (row,) = store.epochs(run)
    assert row.extra["val_f1"] == 0.25 and math.isnan(row.extra["val_auc"])
    assert row.metric("val_f1") == 0.25 and row.metric("val_missing") is None


def test_version_1_store_is_migrated_in_place(tmp_path) -> None:
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    schema = _SCHEMA.replace("    extra TEXT,\n", "")
    db.executescript(schema + "; PRAGMA user_version=1;")
    db.execute("INSERT INTO runs (config_hash, schedule, seed, dataset, model, optimizer, config, "
               "epochs) VALUES ('h', 'constant(lr=0.1)', 0, 'd', 'm', 'o', '{}', 1)")  # fmt: skip
    db.execute("INSERT INTO epochs (run_id, epoch, train_loss, val_loss, lr, seconds, diverged, "
               "committed) VALUES (1, 0, 1.0, 2.0, 0.1, 1.0, 0, 'now')")  # fmt: skip
    db.commit()
    db.close()
    with RunStore(path) as store:
        (row,) = store.epochs(1)
        assert (row.val_loss, row.extra) == (2.0, {})
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_one_transaction_per_epoch(store) -> None:
    """A bad record in a group rolls back the whole epoch, including the good runs' rows."""
    a, b = store.ensure_runs(
        "sw", CONFIG, HASH, [("c", "constant(lr=0.1)", 0), ("c", "constant(lr=0.1)", 1)]
    )
    store.start_runs([a, b], restart=True)
    with pytest.raises(ValueError, match=f"run {b} expects epoch 0, got 1"):
        store.commit_epoch(
            [EpochResult(a, rec(0), b"a", False), EpochResult(b, rec(1), b"b", False)]
        )
    assert store.epochs(a) == [] and store.checkpoint(a) is None
    assert store.runs(id=a)[0].epochs_done == 0
    store.commit_epoch([EpochResult(a, rec(0), b"a", False), EpochResult(b, rec(0), b"b", False)])
    assert [len(store.epochs(r)) for r in (a, b)] == [1, 1]


def test_nan_losses_and_divergence(store) -> None:
    (run,) = store.ensure_runs("sw", CONFIG, HASH, [("hot", "constant(lr=10.0)", 0)])
    store.start_runs([run], restart=True)
    store.commit_epoch([EpochResult(run, rec(0, loss=math.inf), None, False)])
    store.commit_epoch([EpochResult(run, rec(1, loss=math.nan), None, True)])
    first, second = store.epochs(run)
    assert first.train_loss == math.inf
    assert math.isnan(second.val_loss) and second.diverged
    assert store.runs(id=run)[0].status == "diverged"
    assert store.checkpoint(run) is None


def test_restart_erases_and_filters(store) -> None:
    ids = store.ensure_runs(
        "sw", CONFIG, HASH, [("c", "constant(lr=0.1)", 0), ("cos", "cosine(lr=0.1, steps=2)", 0)]
    )
    store.start_runs(ids, restart=True)
    store.commit_epoch([EpochResult(ids[0], rec(0), b"x", False)])
    store.start_runs([ids[0]], restart=True)
    row = store.runs(id=ids[0])[0]
    assert (row.epochs_done, row.attempts) == (0, 2)
    assert store.epochs(ids[0]) == [] and store.checkpoint(ids[0]) is None
    assert len(store.step_lrs(ids[0])) == 0
    assert [r.label for r in store.runs("sw", label=["cos", "zz"])] == ["cos"]
    assert store.runs("sw", seed=1) == []
    store.mark([ids[1]], "failed")
    assert [r.id for r in store.runs(status="failed")] == [ids[1]]
    with pytest.raises(ValueError, match="unknown run filter 'colour'; valid filters: sweep, id"):
        store.runs(colour="red")
    with pytest.raises(ValueError, match=r"status must be one of pending, running.*got 'done'"):
        store.mark(ids, "done")
