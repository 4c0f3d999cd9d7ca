"""The run store at its boundary: damaged pages, integers SQLite cannot hold, read-only checks
before a sweep writes, and deleting runs with everything stored for them (real SQLite files)."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from schedlab.errors import ConfigError, StoreError
from schedlab.lab.runs.store import EpochResult, RunStore
from schedlab.lab.train.records import EpochRecord

CONFIG = {"dataset": "digits", "model": "mlp", "optimizer": "sgd", "epochs": 1}
HASH = "b" * 64
PAGE = 4096


def rec(epoch: int = 0) -> EpochRecord:
    return EpochRecord(
        member=0, epoch=epoch, train_loss=0.5, train_acc=0.8, val_loss=0.5, val_acc=0.75,
        lr=0.1, step_lrs=np.array([0.1, 0.1]), diverged=False, seconds=0.1,
    )  # fmt: skip


def many_runs(path, n: int = 400) -> list[int]:
    """A store whose ``runs`` table spans several pages (its root page is an interior page)."""
    with RunStore(path) as store:
        store.ensure_sweep("w", {"k": 1})
        ids = store.ensure_runs(
            "w", CONFIG, HASH, [("c", f"constant(lr={i})", 0) for i in range(n)]
        )
        store.start_runs(ids, restart=False)
        store.commit_epoch([EpochResult(i, rec(), b"state", True) for i in ids])
    return ids


def damage_interior_page(path, table: str = "runs") -> None:
    """Make the root (interior) page of ``table`` list 10 of its children: a full scan then
    silently skips the others, which is what a torn or bit-flipped page can do."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()
    db.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * PAGE)
        page = bytearray(fh.read(PAGE))
        assert page[0] == 5 and int.from_bytes(page[3:5], "big") > 10  # interior table page
        page[3:5] = (10).to_bytes(2, "big")
        fh.seek((root - 1) * PAGE)
        fh.write(page)


def test_a_damaged_store_is_refused_not_read_partially(tmp_path) -> None:
    path = tmp_path / "runs.sqlite"
    many_runs(path)
    damage_interior_page(path)
    raw = sqlite3.connect(path)  # what the store used to do: read a part of it, silently
    assert raw.execute("SELECT count(*) FROM runs NOT INDEXED").fetchone()[0] < 400
    raw.close()
    with pytest.raises(StoreError, match=r"store: '.*runs\.sqlite' is damaged \(.*\.recover"):
        RunStore(path)


def test_integers_sqlite_cannot_hold_name_the_key(tmp_path) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.ensure_sweep("w", {"k": 1})
        with pytest.raises(ConfigError, match=r"seed must be an integer below 2\*\*63"):
            store.ensure_runs("w", CONFIG, HASH, [("c", "constant(lr=0.1)", 2**64)])
        with pytest.raises(ConfigError, match=r"epochs must be an integer below 2\*\*63"):
            store.ensure_runs("w", {**CONFIG, "epochs": 10**20}, HASH, [("c", "constant(lr=1)", 0)])
        with pytest.raises(ConfigError, match=r"seed must be an integer below 2\*\*63"):
            store.runs(seed=10**30)
        assert store.runs() == []


def test_statuses_and_check_sweep_write_nothing(tmp_path) -> None:
    path = tmp_path / "runs.sqlite"
    ids = many_runs(path, 3)
    before = path.read_bytes()
    with RunStore(path) as store:
        got = store.statuses(HASH, [("constant(lr=1)", 0), ("constant(lr=1)", 1)])
        assert got == ["finished", None]
        assert store.statuses("c" * 64, [("constant(lr=1)", 0)]) == [None]
        assert store.check_sweep("w", {"k": 1}) == store.sweep("w").id
        assert store.check_sweep("new", {"k": 1}) is None
        with pytest.raises(StoreError, match="already exists with a different configuration"):
            store.check_sweep("w", {"k": 2})
    assert path.read_bytes() == before and len(ids) == 3


def test_delete_runs_removes_everything_of_them_in_one_transaction(tmp_path) -> None:
    path = tmp_path / "runs.sqlite"
    ids = many_runs(path, 4)
    with RunStore(path) as store:
        store.ensure_sweep("other", {"k": 2})  # runs ids[0] and ids[1] are in two sweeps
        store.ensure_runs(
            "other", CONFIG, HASH, [("c0", "constant(lr=0)", 0), ("c1", "constant(lr=1)", 0)]
        )
        store.ensure_sweep("gone", {"k": 3})
        store.ensure_runs("gone", CONFIG, HASH, [("c3", "constant(lr=3)", 0)])
        with pytest.raises(StoreError, match="no run with id 999"):
            store.delete_runs([ids[0], 999])
        assert len(store.runs()) == 7  # nothing deleted
        done = store.delete_runs([ids[0], ids[3]])
        assert (done.runs, done.epochs, done.checkpoints, done.sweeps) == (2, 2, 2, ("gone",))
        assert sorted(r.id for r in store.runs("w")) == [ids[1], ids[2]]
        assert [r.label for r in store.runs("other")] == ["c1"]
        assert [(s.name, s.runs) for s in store.sweeps()] == [("w", 2), ("other", 1)]
    db = sqlite3.connect(path)
    for table in ("epochs", "step_lrs", "checkpoints", "sweep_runs"):
        left = {r[0] for r in db.execute(f"SELECT run_id FROM {table}")}
        assert left == {ids[1], ids[2]}, table
    assert {r[0] for r in db.execute("SELECT id FROM runs")} == {ids[1], ids[2]}
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_nan_is_still_stored_as_null(tmp_path) -> None:  # the connection wrapper keeps types
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.ensure_sweep("w", {"k": 1})
        (run,) = store.ensure_runs("w", CONFIG, HASH, [("c", "constant(lr=0.1)", 0)])
        store.start_runs([run], restart=True)
        bad = rec()
        bad.val_loss = math.nan
        store.commit_epoch([EpochResult(run, bad, None, True)])
        assert math.isnan(store.epochs(run)[0].val_loss)
