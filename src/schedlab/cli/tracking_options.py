"""The command-line side of scale-out and tracking: ``--track`` trackers for ``schedlab compare``
and the ``mlflow`` / ``tensorboard`` formats of ``schedlab export``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError

TRACKERS: tuple[str, ...] = ("mlflow", "tensorboard")
#: ``schedlab export`` formats handled here (the others are files: csv, json)
TRACKER_FORMATS: tuple[str, ...] = TRACKERS


def make_trackers(
    names: Sequence[str] | None,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    logdir: str | os.PathLike = "tensorboard",
) -> list[Any]:
    """Trackers for ``--track NAME`` (repeatable): ``mlflow`` (to ``tracking_uri``, experiment
    ``experiment`` or the sweep's name) and ``tensorboard`` (event files under ``logdir``)."""
    names = list(dict.fromkeys(names or ()))
    bad = [n for n in names if n not in TRACKERS]
    if bad:
        raise ConfigError(f"--track must be one of {', '.join(TRACKERS)}; got {bad[0]!r}")
    if "mlflow" not in names and (tracking_uri is not None or experiment is not None):
        raise ConfigError("--tracking-uri and --experiment need --track mlflow")
    trackers: list[Any] = []
    for name in names:
        if name == "mlflow":
            from schedlab.integrations.mlflow import MlflowTracker

            trackers.append(MlflowTracker(tracking_uri, experiment=experiment))
        else:
            from schedlab.integrations.tensorboard import TensorBoardTracker

            trackers.append(TensorBoardTracker(logdir))
    return trackers


def finish_trackers(
    trackers: Iterable[Any], sweep: str, artifacts: Iterable[Path | None]
) -> list[str]:
    """Attach the existing ``artifacts`` (report, ranking) to MLflow's sweep run and close it;
    return one line per tracker saying where its data is."""
    from schedlab.integrations.mlflow import MlflowTracker

    files = [a for a in artifacts if a is not None]
    lines = []
    for tracker in trackers:
        if isinstance(tracker, MlflowTracker):
            if sweep in tracker.sweeps:
                tracker.log_sweep_artifacts(sweep, files)
            tracker.close()
            name = tracker.experiment or sweep
            lines.append(f"mlflow: {tracker.tracking_uri} (experiment {name!r})")
        else:
            lines.append(f"tensorboard: tensorboard --logdir {tracker.logdir}")
    return lines


def export_tracked(
    store: Any,
    fmt: str,
    sweep: str | None,
    *,
    tracking_uri: str | None,
    experiment: str | None,
    logdir: Path | None,
    artifacts: Sequence[Path],
) -> str:
    """``schedlab export --format mlflow|tensorboard``: write the runs; return a summary line."""
    if fmt == "mlflow":
        from schedlab.integrations.mlflow import export_mlflow

        missing = [str(a) for a in artifacts if not Path(a).is_file()]
        if missing:
            raise ConfigError(f"--artifact: no such file {missing[0]!r}")
        done = export_mlflow(
            store, sweep, tracking_uri=tracking_uri, experiment=experiment, artifacts=artifacts
        )
        where = tracking_uri or "MLflow's default tracking URI"
        return f"exported {len(done)} runs to MLflow at {where}"
    if tracking_uri is not None or experiment is not None or artifacts:
        raise ConfigError("--tracking-uri, --experiment and --artifact apply to --format mlflow")
    from schedlab.integrations.tensorboard import export_tensorboard

    folder = logdir or Path("tensorboard")
    dirs = export_tensorboard(store, folder, sweep)
    return f"exported {len(dirs)} runs to {folder} (view: tensorboard --logdir {folder})"
