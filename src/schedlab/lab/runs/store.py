"""The run store: every sweep, run, epoch, per-step rate and latest checkpoint in one SQLite file.

A *run* is one schedule x seed trained under one :class:`~schedlab.lab.train.config.TrainConfig`; its identity
is ``(config_hash, schedule, seed)`` where ``schedule`` is the canonical text form of the spec, so the
same run is never trained twice, whichever sweep asks for it.  A *sweep* is a named list of runs, each
with the label the user gave its schedule.

Durability: WAL journal, and every epoch of a group of runs (metrics, per-step rates, checkpoints and
run status) is written in ONE transaction by :meth:`RunStore.commit_epoch`, so a crash at any moment
leaves each run at the end of its last committed epoch with a matching checkpoint.  Checkpoints are
``torch.save`` bytes kept in the database (latest one per run); loading one unpickles it, so open
only stores you trust, as with any pickle.

Schema version :data:`SCHEMA_VERSION` is kept in ``PRAGMA user_version``; a store written by a newer
schedlab is refused with a clear error.

Damage: opening a store runs SQLite's ``PRAGMA quick_check`` (every page's structure; about 0.2 s
per 500 MB), so a store with damaged pages is refused with a :class:`~schedlab.errors.StoreError`
instead of being read as a partial one; any database error later (damage found while reading, a
full disk, a read-only file, a lock held too long) is a ``StoreError`` naming the store too.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, StoreError
from schedlab.lab.runs.files import check_output_folder
from schedlab.lab.runs.rows import EPOCH_FIELDS, EpochRow, RunRow, SweepRow
from schedlab.validate import is_int

SCHEMA_VERSION = 2
STATUSES: tuple[str, ...] = ("pending", "running", "finished", "diverged", "failed")
DONE: tuple[str, ...] = ("finished", "diverged")
DEFAULT_STORE = "schedlab-runs.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    config_hash TEXT NOT NULL,
    schedule TEXT NOT NULL,
    seed INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    config TEXT NOT NULL,
    epochs INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    epochs_done INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    started TEXT,
    finished TEXT,
    seconds REAL NOT NULL DEFAULT 0,
    UNIQUE (config_hash, schedule, seed)
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    label TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, run_id)
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
    lr REAL, seconds REAL, diverged INTEGER NOT NULL,
    extra TEXT,
    committed TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS step_lrs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    lrs BLOB NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    state BLOB NOT NULL,
    saved TEXT NOT NULL
);
"""

RUN_FILTERS: tuple[str, ...] = (
    "id", "dataset", "model", "optimizer", "schedule", "label", "seed", "config_hash", "status",
)  # fmt: skip
_RUN_COLUMNS = (
    "r.id, s.name AS sweep, r.dataset, r.model, r.optimizer, r.schedule, sr.label, r.seed, "
    "r.config_hash, r.status, r.epochs_done, r.epochs, r.attempts, r.started, r.finished, "
    "r.seconds, r.config"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _real(value: float | None) -> float | None:
    """A float for SQLite, which has no NaN: NaN is stored as NULL (losses read back as NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _extra(values: Mapping[str, float] | None) -> str | None:
    """The user's metrics as JSON (NaN as null; none: NULL)."""
    if not values:
        return None
    return json.dumps({k: _real(v) for k, v in values.items()}, sort_keys=True)


def _read_extra(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    return {k: math.nan if v is None else float(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True)
class EpochResult:
    """What :meth:`RunStore.commit_epoch` writes for one run after one epoch.

    ``record`` is an :class:`~schedlab.lab.train.records.EpochRecord` (or anything with its fields);
    ``state`` the run's checkpoint (``torch.save`` bytes) after the epoch, or ``None`` to keep none.
    """

    run_id: int
    record: Any
    state: bytes | None
    done: bool


#: the largest integer an SQLite INTEGER holds
MAX_INTEGER = 2**63 - 1


def check_integer(name: str, value: Any) -> int:
    """``value`` as an int that SQLite can store (``ConfigError`` naming ``name`` otherwise)."""
    if not (is_int(value) and -MAX_INTEGER - 1 <= value <= MAX_INTEGER):
        raise ConfigError(
            f"{name} must be an integer below 2**63 (what the run store holds); got {value!r:.80}"
        )
    return int(value)


@dataclass(frozen=True)
class Deleted:
    """What :meth:`RunStore.delete_runs` removed: runs, their epoch rows and checkpoints, and the
    names of the sweeps left without runs (removed too)."""

    runs: int
    epochs: int
    checkpoints: int
    sweeps: tuple[str, ...]


class RunStore:
    """A SQLite run store at ``path`` (created if missing; WAL journal; committed per epoch).

    Opening an existing store checks its pages (``PRAGMA quick_check``): a damaged one is refused.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"store: path must be a file, got the directory {str(self.path)!r}")
        where = str(self.path)
        if not self.path.parent.is_dir():  # a new folder: say why it cannot be made, if it cannot
            check_output_folder(self.path.parent, "store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            raw = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)
            raise StoreError(f"store: cannot open {where!r} ({reason})") from None
        raw.row_factory = sqlite3.Row
        self._db = _Connection(raw, where)
        try:
            self._check_pages()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            raw.close()
            raise

    def _check_pages(self) -> None:
        """Refuse a file that is not an SQLite database, or one with damaged pages."""
        try:
            rows = self._db.raw.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.DatabaseError as err:
            if "not a database" in str(err) or "encrypted" in str(err):
                raise StoreError(
                    f"store: {str(self.path)!r} is not a schedlab run store ({err})"
                ) from None
            raise _damaged(str(self.path), str(err)) from None
        lines = [
            line.strip()
            for r in rows
            if r[0] != "ok"
            for line in str(r[0]).splitlines()
            if line.strip() and not line.startswith("***")
        ]
        if lines:
            more = f", and {len(lines) - 1} more problem(s)" if len(lines) > 1 else ""
            raise _damaged(str(self.path), f"{lines[0][:200]}{more}")

    # -- lifecycle ------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store: {str(self.path)!r} has schema version {version}; this schedlab reads "
                    f"versions <= {SCHEMA_VERSION} (upgrade schedlab)"
                )
            if version == SCHEMA_VERSION:
                return
            if version == 1:  # version 2 adds the user's own metrics of each epoch
                self._db.execute("ALTER TABLE epochs ADD COLUMN extra TEXT")
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                return
            tables = self._db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'")
            if tables.fetchone()[0]:
                raise StoreError(
                    f"store: {str(self.path)!r} is an SQLite file but not a schedlab run store"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection (the store can no longer be used)."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- sweeps and runs ------------------------------------------------------------------------
    def ensure_sweep(self, name: str, config: Mapping[str, Any]) -> int:
        """Create sweep ``name`` with ``config`` (JSON-serializable) or return the existing one's id.

        An existing sweep must have the same config: a sweep name means one experiment.
        """
        text = json.dumps(config, sort_keys=True)
        existing = self.check_sweep(name, config)
        if existing is not None:
            return existing
        with self._transaction():
            cur = self._db.execute(
                "INSERT INTO sweeps (name, config, created) VALUES (?, ?, ?)", (name, text, _now())
            )
        return int(cur.lastrowid)

    def check_sweep(self, name: str, config: Mapping[str, Any]) -> int | None:
        """The id of sweep ``name`` if it exists with ``config``, ``None`` if there is none; a
        :class:`StoreError` if it exists with another config.  Writes nothing."""
        row = self._db.execute("SELECT id, config FROM sweeps WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        if json.loads(row["config"]) != json.loads(json.dumps(config, sort_keys=True)):
            raise StoreError(
                f"store: sweep {name!r} already exists with a different configuration; "
                "choose another name (--name) or the same settings"
            )
        return int(row["id"])

    def statuses(self, config_hash: str, runs: Sequence[tuple[str, int]]) -> list[str | None]:
        """The status of each ``(schedule, seed)`` run under ``config_hash``, ``None`` for a run
        not stored yet.  Writes nothing (what a sweep asks before it validates and writes)."""
        rows = self._db.execute(
            "SELECT schedule, seed, status FROM runs WHERE config_hash=?", (config_hash,)
        ).fetchall()
        known = {(r["schedule"], int(r["seed"])): str(r["status"]) for r in rows}
        return [known.get((schedule, int(seed))) for schedule, seed in runs]

    def ensure_runs(
        self,
        sweep: str,
        config: Mapping[str, Any],
        config_hash: str,
        runs: Sequence[tuple[str, str, int]],
    ) -> list[int]:
        """Make sure each ``(label, schedule, seed)`` exists and belongs to ``sweep``; return run ids.

        ``schedule`` must be canonical text (the identity); a run already stored under the same
        ``(config_hash, schedule, seed)`` is reused as it is, whatever its status.
        """
        sweep_row = self._db.execute("SELECT id FROM sweeps WHERE name=?", (sweep,)).fetchone()
        if sweep_row is None:
            raise StoreError(f"store: no sweep named {sweep!r}; known: {self._sweep_names()}")
        ids = []
        config_text = json.dumps(dict(config), sort_keys=True)
        epochs = check_integer("epochs", config["epochs"])
        runs = [(label, schedule, check_integer("seed", seed)) for label, schedule, seed in runs]
        with self._transaction():
            for position, (label, schedule, seed) in enumerate(runs):
                self._db.execute(
                    "INSERT OR IGNORE INTO runs (config_hash, schedule, seed, dataset, model, "
                    "optimizer, config, epochs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (config_hash, schedule, int(seed), config["dataset"], config["model"],
                     config["optimizer"], config_text, epochs),
                )  # fmt: skip
                run_id = self._db.execute(
                    "SELECT id FROM runs WHERE config_hash=? AND schedule=? AND seed=?",
                    (config_hash, schedule, int(seed)),
                ).fetchone()[0]
                self._db.execute(
                    "INSERT OR IGNORE INTO sweep_runs (sweep_id, run_id, label, position) "
                    "VALUES (?, ?, ?, ?)",
                    (sweep_row["id"], run_id, label, position),
                )
                ids.append(int(run_id))
        return ids

    def _sweep_names(self) -> str:
        names = [r[0] for r in self._db.execute("SELECT name FROM sweeps ORDER BY id")]
        return ", ".join(map(repr, names)) or "(none)"

    def sweeps(self) -> list[SweepRow]:
        """Every sweep, in creation order."""
        rows = self._db.execute(
            "SELECT s.id, s.name, s.config, s.created, count(sr.run_id) AS runs FROM sweeps s "
            "LEFT JOIN sweep_runs sr ON sr.sweep_id = s.id GROUP BY s.id ORDER BY s.id"
        ).fetchall()
        return [SweepRow(**{**dict(r), "config": json.loads(r["config"])}) for r in rows]

    def sweep(self, name: str) -> SweepRow:
        """One sweep by name (``ValueError`` listing the known names if there is none)."""
        for row in self.sweeps():
            if row.name == name:
                return row
        raise StoreError(f"store: no sweep named {name!r}; known sweeps: {self._sweep_names()}")

    def runs(self, sweep: str | None = None, **filters: Any) -> list[RunRow]:
        """Stored runs, in sweep order, optionally of one ``sweep`` and filtered by exact values.

        Filters: ``id, dataset, model, optimizer, schedule, label, seed, config_hash, status`` (a
        value or a list of allowed values), as :class:`~schedlab.lab.runs.rows.RunRow`.  A run in
        two sweeps appears once per sweep.
        """
        unknown = sorted(set(filters) - set(RUN_FILTERS))
        if unknown:
            raise StoreError(
                f"store: unknown run filter {', '.join(map(repr, unknown))}; "
                f"valid filters: sweep, {', '.join(RUN_FILTERS)}"
            )
        where, args = [], []
        if sweep is not None:
            self.sweep(sweep)
            where.append("s.name = ?")
            args.append(sweep)
        for key, value in filters.items():
            if value is None:
                continue
            column = "sr.label" if key == "label" else f"r.{key}"
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            values = [check_integer(key, v) if is_int(v) else v for v in values]
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            args.extend(values)
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id "
            "JOIN sweeps s ON s.id = sr.sweep_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY s.id, sr.position"
        )
        return [
            RunRow(**{**dict(r), "config": json.loads(r["config"])})
            for r in self._db.execute(sql, args)
        ]

    def epochs(self, run_id: int) -> list[EpochRow]:
        """The committed epochs of a run, in epoch order (a NaN loss reads back as NaN)."""
        rows = self._db.execute(
            f"SELECT {', '.join(EPOCH_FIELDS)}, extra FROM epochs WHERE run_id=? ORDER BY epoch",
            (run_id,),
        ).fetchall()
        nan = math.nan
        return [
            EpochRow(
                epoch=int(r["epoch"]),
                train_loss=nan if r["train_loss"] is None else r["train_loss"],
                train_acc=r["train_acc"],
                val_loss=nan if r["val_loss"] is None else r["val_loss"],
                val_acc=r["val_acc"],
                lr=r["lr"],
                seconds=r["seconds"],
                diverged=bool(r["diverged"]),
                extra=_read_extra(r["extra"]),
            )
            for r in rows
        ]

    def step_lrs(self, run_id: int) -> np.ndarray:
        """The float64 learning rate at every optimizer step of the run, all epochs concatenated."""
        blobs = self._db.execute(
            "SELECT lrs FROM step_lrs WHERE run_id=? ORDER BY epoch", (run_id,)
        ).fetchall()
        if not blobs:
            return np.zeros(0, dtype=np.float64)
        return np.concatenate([np.frombuffer(b[0], dtype="<f8") for b in blobs])

    def checkpoint(self, run_id: int) -> tuple[int, bytes] | None:
        """``(epochs_done, torch.save bytes)`` of the run's latest checkpoint, or ``None``."""
        row = self._db.execute(
            "SELECT epoch, state FROM checkpoints WHERE run_id=?", (run_id,)
        ).fetchone()
        return None if row is None else (int(row["epoch"]), bytes(row["state"]))

    # -- writing --------------------------------------------------------------------------------
    def start_runs(self, run_ids: Iterable[int], *, restart: bool) -> None:
        """Mark runs ``running`` for a new attempt; ``restart`` first erases their epochs and checkpoint."""
        ids = list(run_ids)
        with self._transaction():
            for run_id in ids:
                if restart:
                    for table in ("epochs", "step_lrs", "checkpoints"):
                        self._db.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
                    self._db.execute(
                        "UPDATE runs SET epochs_done=0, seconds=0, started=NULL, finished=NULL "
                        "WHERE id=?",
                        (run_id,),
                    )
                self._db.execute(
                    "UPDATE runs SET status='running', attempts=attempts+1, "
                    "started=coalesce(started, ?) WHERE id=?",
                    (_now(), run_id),
                )

    def commit_epoch(self, results: Sequence[EpochResult]) -> None:
        """Write one epoch of a group of runs in ONE transaction: metrics, per-step rates,
        checkpoints (replacing the previous one) and run status (``finished``/``diverged`` when
        ``done``).  ``record.epoch`` must be the run's next epoch."""
        now = _now()
        with self._transaction():
            for res in results:
                rec = res.record
                done_before = self._db.execute(
                    "SELECT epochs_done FROM runs WHERE id=?", (res.run_id,)
                ).fetchone()
                if done_before is None or done_before[0] != rec.epoch:
                    raise StoreError(
                        f"store: run {res.run_id} expects epoch "
                        f"{None if done_before is None else done_before[0]}, got {rec.epoch}"
                    )
                self._db.execute(
                    "INSERT INTO epochs (run_id, epoch, train_loss, train_acc, val_loss, val_acc, "
                    "lr, seconds, diverged, extra, committed) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (res.run_id, rec.epoch, _real(rec.train_loss), _real(rec.train_acc),
                     _real(rec.val_loss), _real(rec.val_acc), _real(rec.lr), float(rec.seconds),
                     int(bool(rec.diverged)), _extra(getattr(rec, "extra", None)), now),
                )  # fmt: skip
                lrs = np.ascontiguousarray(rec.step_lrs, dtype="<f8").tobytes()
                self._db.execute(
                    "INSERT INTO step_lrs (run_id, epoch, lrs) VALUES (?, ?, ?)",
                    (res.run_id, rec.epoch, lrs),
                )
                if res.state is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO checkpoints (run_id, epoch, state, saved) "
                        "VALUES (?, ?, ?, ?)",
                        (res.run_id, rec.epoch + 1, sqlite3.Binary(res.state), now),
                    )
                status = "running"
                if res.done:
                    diverged = self._db.execute(
                        "SELECT max(diverged) FROM epochs WHERE run_id=?", (res.run_id,)
                    ).fetchone()[0]
                    status = "diverged" if diverged else "finished"
                self._db.execute(
                    "UPDATE runs SET epochs_done=?, seconds=seconds+?, status=?, finished=? "
                    "WHERE id=?",
                    (rec.epoch + 1, float(rec.seconds), status, now if res.done else None,
                     res.run_id),
                )  # fmt: skip

    def delete_runs(self, run_ids: Iterable[int]) -> Deleted:
        """Delete runs with everything stored for them -- epochs, per-step rates, checkpoint and
        their place in every sweep -- in ONE transaction; a sweep left without runs is deleted
        too.  Unknown ids are a :class:`StoreError` (nothing is deleted)."""
        ids = sorted({check_integer("run id", r) for r in run_ids})
        with self._transaction():
            known = {
                int(r[0])
                for chunk in _chunks(ids)
                for r in self._db.execute(
                    f"SELECT id FROM runs WHERE id IN ({', '.join('?' * len(chunk))})", chunk
                )
            }
            missing = [r for r in ids if r not in known]
            if missing:
                raise StoreError(f"store: no run with id {', '.join(map(str, missing[:10]))}")
            epochs = checkpoints = 0
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                epochs += self._db.execute(
                    f"SELECT count(*) FROM epochs WHERE run_id IN ({marks})", chunk
                ).fetchone()[0]
                checkpoints += self._db.execute(
                    f"SELECT count(*) FROM checkpoints WHERE run_id IN ({marks})", chunk
                ).fetchone()[0]
                for table in ("epochs", "step_lrs", "checkpoints", "sweep_runs"):
                    self._db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", chunk)
                self._db.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)
            empty = [
                str(r[0])
                for r in self._db.execute(
                    "SELECT name FROM sweeps WHERE id NOT IN (SELECT sweep_id FROM sweep_runs) "
                    "ORDER BY id"
                )
            ]
            self._db.execute("DELETE FROM sweeps WHERE id NOT IN (SELECT sweep_id FROM sweep_runs)")
        return Deleted(len(ids), int(epochs), int(checkpoints), tuple(empty))

    def mark(self, run_ids: Iterable[int], status: str) -> None:
        """Set the status of runs (e.g. ``failed`` after an exception)."""
        if status not in STATUSES:
            raise StoreError(f"store: status must be one of {', '.join(STATUSES)}; got {status!r}")
        with self._transaction():
            for run_id in run_ids:
                self._db.execute("UPDATE runs SET status=? WHERE id=?", (status, run_id))


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """``ids`` in lists short enough for one statement's parameters."""
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def _damaged(path: str, detail: str) -> StoreError:
    return StoreError(
        f"store: {path!r} is damaged ({detail}); restore it from a backup, or copy out what is "
        f"readable with `sqlite3 {path} .recover` into a new file"
    )


class _Result:
    """The rows of one statement, fetched at once (so a damaged page found while reading is an
    error of the statement, translated like the others)."""

    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        self.rows, self.lastrowid = rows, lastrowid

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class _Connection:
    """An autocommit SQLite connection whose errors name the store: a database error (damage, a
    full disk, a read-only file, a lock held too long) becomes a :class:`StoreError`, an integer
    SQLite cannot hold a :class:`ConfigError`; constraint violations stay (they are bugs)."""

    def __init__(self, raw: sqlite3.Connection, path: str) -> None:
        self.raw, self.path = raw, path

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Result:
        try:
            cur = self.raw.execute(sql, args)
            return _Result(cur.fetchall(), cur.lastrowid)
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as err:
            text = str(err)
            if "malformed" in text or "corrupt" in text:
                raise _damaged(self.path, text) from None
            if "locked" in text or "busy" in text:
                text += " (another process holds it; wait for it to end)"
            raise StoreError(f"store: {self.path!r}: {text}") from None
        except OverflowError as err:
            raise ConfigError(
                f"store: {self.path!r}: a value does not fit an SQLite INTEGER ({err})"
            ) from None

    def close(self) -> None:
        self.raw.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: _Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except BaseException:  # a full disk, say: do not leave the transaction open
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._db.raw.in_transaction:  # a failed statement may have ended it already
            self._db.raw.execute("ROLLBACK")
