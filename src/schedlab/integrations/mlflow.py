"""MLflow: every schedlab run as an MLflow run, live (:class:`MlflowTracker`) or afterwards
(:func:`export_mlflow`).

Layout: one MLflow experiment per sweep (named after the sweep unless ``experiment`` is given), a
*parent* run for the sweep (its training config as params; the HTML report and ``ranking.json``
as artifacts), and one child run per schedule x seed named ``"{label} seed={seed}"`` with

* params: :meth:`~schedlab.lab.runs.tracking.RunInfo.params` (sweep, label, schedule text, seed,
  config hash, every config field, ``schedule.<field>`` of the spec);
* metrics per epoch, ``step`` = the 0-based epoch: ``train_loss``, ``val_loss``, ``train_acc``,
  ``val_acc`` (classification), ``lr`` (rate at the epoch's last optimizer step), ``seconds``;
* metric ``lr_step``: the rate at every optimizer step, ``step`` = the global optimizer step;
* artifacts: ``lr_curve.csv`` (step, lr) and ``curves.png`` (losses, accuracy and rate);
* tags: ``schedlab.key`` (a hash of config hash, schedule and seed), ``schedlab.status``.

A run that (re)starts replaces its earlier MLflow run with the same key (the old one is
soft-deleted, as the store erased or superseded it), so exporting twice or resuming a sweep never
duplicates runs.  The tracking URI defaults to MLflow's own (``MLFLOW_TRACKING_URI``, else
``sqlite:///mlflow.db`` in the working directory).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.runs.store import EpochResult, RunStore
from schedlab.lab.runs.tracking import RunInfo, replay

_BATCH = 1000  # MLflow's limit of metrics per log_batch call
_EPOCH_METRICS = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "seconds")
_END = {"finished": "FINISHED", "diverged": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_KEY_TAG, _SWEEP_TAG, _PARENT_TAG = "schedlab.key", "schedlab.sweep_key", "schedlab.sweep_parent"


def _hash(text: str) -> str:
    """A quote-free tag value for search filters."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class MlflowTracker:
    """Log runs to MLflow as they train (a :class:`~schedlab.lab.runs.tracking.Tracker`).

    Args:
        tracking_uri: MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ...);
            ``None`` uses MLflow's default.
        experiment: experiment name; ``None`` names it after each run's sweep.
        plots: attach ``curves.png`` to each run when it ends (needs matplotlib).
    """

    def __init__(
        self, tracking_uri: str | None = None, *, experiment: str | None = None, plots: bool = True
    ) -> None:
        from mlflow.tracking import MlflowClient

        if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
            raise ConfigError(f"mlflow: experiment must be a non-empty string; got {experiment!r}")
        self.client = MlflowClient(tracking_uri)
        self.tracking_uri = self.client.tracking_uri
        self.experiment = experiment
        self.plots = plots
        self._experiments: dict[str, str] = {}
        self._parents: dict[str, str] = {}
        self.run_ids: dict[int, str] = {}  # store run id -> MLflow run id
        self._history: dict[int, list[Any]] = {}

    # -- experiments and parents ------------------------------------------------------------------
    def experiment_id(self, sweep: str) -> str:
        """The id of the experiment that holds ``sweep`` (created if missing)."""
        name = self.experiment or sweep
        if name not in self._experiments:
            found = self.client.get_experiment_by_name(name)
            if found is not None and found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            self._experiments[name] = (
                found.experiment_id if found is not None else self.client.create_experiment(name)
            )
        return self._experiments[name]

    def _search(self, sweep: str, tag: str, value: str) -> list[Any]:
        return self.client.search_runs(
            [self.experiment_id(sweep)],
            filter_string=f"tags.`{tag}` = '{value}' and tags.`{_SWEEP_TAG}` = '{_hash(sweep)}'",
        )

    def parent_run(self, info: RunInfo) -> str:
        """The MLflow run id of the sweep's parent run (created, with the config, if missing)."""
        sweep = info.sweep
        if sweep not in self._parents:
            found = self._search(sweep, _PARENT_TAG, "1")
            if found:
                self._parents[sweep] = found[0].info.run_id
                self.client.update_run(self._parents[sweep], status="RUNNING")
            else:
                run = self.client.create_run(
                    self.experiment_id(sweep), run_name=sweep,
                    tags={_PARENT_TAG: "1", _SWEEP_TAG: _hash(sweep), "schedlab.sweep": sweep},
                )  # fmt: skip
                self._parents[sweep] = run.info.run_id
                params = {"sweep": sweep, "config_hash": info.config_hash, **info.config}
                self._log(run.info.run_id, params=params)
        return self._parents[sweep]

    @property
    def sweeps(self) -> tuple[str, ...]:
        """The sweeps whose parent run this tracker holds (until :meth:`close`)."""
        return tuple(self._parents)

    def log_sweep_artifacts(self, sweep: str, paths: Iterable[str | os.PathLike]) -> list[str]:
        """Attach existing files (report, ranking) to the sweep's parent run; returns their names."""
        if sweep not in self._parents:
            raise ConfigError(
                f"mlflow: no run of sweep {sweep!r} was tracked; known: {sorted(self._parents)}"
            )
        names = []
        for path in map(Path, paths):
            if path.is_file():
                self.client.log_artifact(self._parents[sweep], str(path))
                names.append(path.name)
        return names

    def close(self) -> None:
        """Mark the parent runs finished."""
        for run_id in self._parents.values():
            self.client.set_terminated(run_id, "FINISHED")
        self._parents.clear()

    # -- the Tracker interface --------------------------------------------------------------------
    def start_run(self, run: RunInfo) -> None:
        parent = self.parent_run(run)
        key = _hash(run.key)
        for old in self._search(run.sweep, _KEY_TAG, key):
            self.client.delete_run(old.info.run_id)
        created = self.client.create_run(
            self.experiment_id(run.sweep), run_name=f"{run.label} seed={run.seed}",
            tags={_KEY_TAG: key, _SWEEP_TAG: _hash(run.sweep), "schedlab.sweep": run.sweep,
                  "mlflow.parentRunId": parent,
                  "schedlab.store_run_id": str(run.run_id), "schedlab.status": "running"},
        )  # fmt: skip
        self.run_ids[run.run_id] = created.info.run_id
        self._history[run.run_id] = []
        self._log(created.info.run_id, params=run.params())

    def log_epoch(self, results: Sequence[EpochResult]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for res in results:
            rec, history = res.record, self._history[res.run_id]
            metrics = [
                Metric(name, float(getattr(rec, name)), now, int(rec.epoch))
                for name in _EPOCH_METRICS
                if getattr(rec, name) is not None
            ]
            offset = sum(len(h.step_lrs) for h in history)
            metrics += [
                Metric("lr_step", float(lr), now, offset + i) for i, lr in enumerate(rec.step_lrs)
            ]
            history.append(rec)
            self._log(self.run_ids[res.run_id], metrics=metrics)

    def end_run(self, run: RunInfo, status: str) -> None:
        mlflow_id = self.run_ids.get(run.run_id)
        if mlflow_id is None:
            return
        history = self._history.pop(run.run_id, [])
        lrs = np.concatenate([h.step_lrs for h in history]) if history else np.zeros(0)
        rows = "\n".join(f"{i},{lr!r}" for i, lr in enumerate(lrs.tolist()))
        self.client.log_text(mlflow_id, f"step,lr\n{rows}\n", "lr_curve.csv")
        if self.plots and history:
            self._log_plot(mlflow_id, run, history, lrs)
        self.client.set_tag(mlflow_id, "schedlab.status", status)
        self.client.set_terminated(mlflow_id, _END.get(status, "FINISHED"))

    # -- helpers ----------------------------------------------------------------------------------
    def _log(self, run_id: str, *, params: dict | None = None, metrics: list | None = None) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in (params or {}).items()]
        for i in range(0, len(items), 100):  # MLflow's limit of params per call
            self.client.log_batch(run_id, params=items[i : i + 100])
        metrics = metrics or []
        for i in range(0, len(metrics), _BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _BATCH])

    def _log_plot(self, run_id: str, run: RunInfo, history: list[Any], lrs: np.ndarray) -> None:
        from schedlab.report.plots import plot_run

        fig = plot_run(history, step_lrs=lrs, title=f"{run.label} (seed {run.seed})")
        self.client.log_figure(run_id, fig, "curves.png")


def export_mlflow(
    store: RunStore,
    sweep: str | None = None,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    artifacts: Iterable[str | os.PathLike] = (),
    plots: bool = True,
    **filters: Any,
) -> dict[int, str]:
    """Export stored runs (one sweep, or all) to MLflow; returns ``{store run id: MLflow run id}``.

    ``artifacts``: files (e.g. the sweep's HTML report and ``ranking.json``) attached to the
    parent run of each exported sweep when they exist.  ``filters`` as in :meth:`RunStore.runs`.
    """
    tracker = MlflowTracker(tracking_uri, experiment=experiment, plots=plots)
    infos = replay(store, tracker, sweep, **filters)
    paths = list(artifacts)
    for name in sorted({i.sweep for i in infos}):
        tracker.log_sweep_artifacts(name, paths)
    tracker.close()
    return {i.run_id: tracker.run_ids[i.run_id] for i in infos}
