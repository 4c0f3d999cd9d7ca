"""Export stored runs with their per-epoch metrics as CSV (one row per run-epoch) or JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.runs.rows import EPOCH_FIELDS, EpochRow
from schedlab.lab.runs.store import RunStore

FORMATS: tuple[str, ...] = ("csv", "json")
RUN_FIELDS: tuple[str, ...] = (
    "id", "sweep", "label", "schedule", "seed", "dataset", "model", "optimizer", "status",
    "epochs_done", "epochs", "attempts", "started", "finished", "seconds", "config_hash",
)  # fmt: skip


def _json_safe(value: Any) -> Any:
    """Strict JSON has no NaN/inf: NaN -> ``null``, +-inf -> ``"inf"``/``"-inf"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _flat(epoch: EpochRow) -> dict[str, Any]:
    """An epoch row as one flat dict: its columns, then the user's metrics (``val_<name>``)."""
    row = epoch.to_dict()
    return {**row, **row.pop("extra")}


def export_runs(store: RunStore, fmt: str, *, sweep: str | None = None, **filters: Any) -> str:
    """Runs (filtered as in :meth:`RunStore.runs`) and their epochs as ``csv`` or ``json`` text.

    CSV: one row per run and epoch, the run columns (``RUN_FIELDS``; ``id`` and ``seconds`` named
    ``run_id`` and ``run_seconds``) then the epoch columns (:data:`EPOCH_FIELDS`, then the user's metrics);
    a run without epochs gives one row with empty epoch columns.
    JSON: a list of runs, each with its ``config`` and an ``epochs`` list; NaN is ``null``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export: format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    runs = store.runs(sweep, **filters)
    if fmt == "json":
        items = []
        for run in runs:
            item = {k: getattr(run, k) for k in RUN_FIELDS} | {"config": dict(run.config)}
            item["epochs"] = [
                {k: _json_safe(v) for k, v in _flat(e).items()} for e in store.epochs(run.id)
            ]
            items.append(item)
        return json.dumps(items, indent=2, allow_nan=False) + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    renamed = {"id": "run_id", "seconds": "run_seconds"}
    epochs = {run.id: [_flat(e) for e in store.epochs(run.id)] for run in runs}
    extra = sorted({k for rows in epochs.values() for e in rows for k in e} - set(EPOCH_FIELDS))
    columns = [*EPOCH_FIELDS, *extra]
    writer.writerow([renamed.get(f, f) for f in RUN_FIELDS] + columns)
    for run in runs:
        head = [getattr(run, k) for k in RUN_FIELDS]
        for e in epochs[run.id] or [{}]:
            writer.writerow(head + ["" if e.get(k) is None else e[k] for k in columns])
    return buf.getvalue()
