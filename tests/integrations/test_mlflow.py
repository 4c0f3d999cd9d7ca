"""MLflow live tracking and export against a REAL local MLflow store (sqlite), read back with
``MlflowClient``: params, metric histories with steps, per-step rates, artifacts; a resumed sweep
and a repeated export leave exactly one MLflow run per schedlab run."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import schedlab.cli.lab_commands  # noqa: F401  (registers the commands)
from schedlab.cli import app
from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.train.config import TrainConfig

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import ViewType  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from schedlab.integrations.mlflow import MlflowTracker, export_mlflow  # noqa: E402

torch.set_num_threads(1)

EPOCHS, STEPS = 3, 8  # 240 training samples / batch 32 -> 8 optimizer steps per epoch
CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=EPOCHS, batch_size=32, train_size=300)
PLAN = make_plan(CONFIG, ["const=constant(0.05)", "cos=cosine(lr=0.1, steps=3)"], [0, 1], name="m")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory (MLflow puts artifacts under ./mlruns) and a sqlite tracking URI."""
    path = tmp_path_factory.mktemp("mlflow")
    old = os.getcwd()
    os.chdir(path)
    try:
        yield path, f"sqlite:///{path / 'mlflow.db'}"
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def tracked(workdir):
    """The sweep tracked live into MLflow: interrupted after one epoch, then resumed to the end."""
    path, uri = workdir

    def stop(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with RunStore(path / "runs.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(store, PLAN, group_size=2, trackers=[MlflowTracker(uri)], progress=stop)
        tracker = MlflowTracker(uri)
        run_sweep(store, PLAN, group_size=2, trackers=[tracker])
        report = path / "m.html"
        report.write_text("<html>report</html>")
        assert tracker.log_sweep_artifacts("m", [report, path / "missing.json"]) == ["m.html"]
        tracker.close()
        yield store, MlflowClient(uri), report


def _children(client: MlflowClient, experiment: str, view=ViewType.ACTIVE_ONLY) -> dict:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], run_view_type=view)
    return {(r.data.params["label"], int(r.data.params["seed"])): r
            for r in runs if "mlflow.parentRunId" in r.data.tags}  # fmt: skip


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _assert_mirrors_store(
    client: MlflowClient, experiment: str, store: RunStore, plots: bool = True
) -> dict:
    children = _children(client, experiment)
    runs = store.runs("m")
    assert sorted(children) == sorted((r.label, r.seed) for r in runs)
    for run in runs:
        mlrun = children[(run.label, run.seed)]
        epochs = store.epochs(run.id)
        for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr"):
            assert _history(client, mlrun.info.run_id, key) == [
                (e.epoch, getattr(e, key)) for e in epochs
            ]
        lr_steps = _history(client, mlrun.info.run_id, "lr_step")
        assert [s for s, _ in lr_steps] == list(range(EPOCHS * STEPS))
        np.testing.assert_array_equal([v for _, v in lr_steps], store.step_lrs(run.id))
        params = mlrun.data.params
        assert params["schedule"] == run.schedule and params["dataset"] == "digits"
        assert params["schedule.kind"] == run.schedule.split("(")[0]
        assert params["epochs"] == str(EPOCHS) and params["config_hash"] == run.config_hash
        assert mlrun.info.status == "FINISHED" and mlrun.data.tags["schedlab.status"] == "finished"
        assert mlrun.info.run_name == f"{run.label} seed={run.seed}"
        names = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
        assert names == ({"curves.png", "lr_curve.csv"} if plots else {"lr_curve.csv"})
    return children


def test_live_runs_mirror_the_store_after_resume(tracked) -> None:
    store, client, _ = tracked
    children = _assert_mirrors_store(client, "m", store)
    # the first attempt of the 2 interrupted runs was superseded, not duplicated
    deleted = _children(client, "m", ViewType.DELETED_ONLY)
    assert len(deleted) == 2 and all(k in children for k in deleted)
    # the first group of 2 was seed 0's runs (groups are ordered seed by seed): const/0 and cos/0
    assert [(r.label, r.seed, r.attempts) for r in store.runs("m")] == [
        ("const", 0, 2), ("const", 1, 1), ("cos", 0, 2), ("cos", 1, 1)]  # fmt: skip


def test_lr_curve_artifact_and_parent_run(tracked, tmp_path) -> None:
    store, client, _ = tracked
    children = _children(client, "m")
    run = store.runs("m", label="cos", seed=0)[0]
    mlrun = children[("cos", 0)]
    local = client.download_artifacts(mlrun.info.run_id, "lr_curve.csv", str(tmp_path))
    rows = list(csv.DictReader(Path(local).read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == list(range(EPOCHS * STEPS))
    np.testing.assert_array_equal([float(r["lr"]) for r in rows], store.step_lrs(run.id))
    parent = client.get_run(mlrun.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == "m" and parent.info.status == "FINISHED"
    assert parent.data.params["model"] == "mlp" and parent.data.params["sweep"] == "m"
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["m.html"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children.values()} == {parent.info.run_id}


def test_export_equals_live_and_is_idempotent(tracked, workdir) -> None:
    store, client, report = tracked
    _, uri = workdir
    first = export_mlflow(store, "m", tracking_uri=uri, experiment="exported", artifacts=[report])
    again = export_mlflow(store, "m", tracking_uri=uri, experiment="exported", plots=False)
    children = _assert_mirrors_store(client, "exported", store, plots=False)
    assert set(again.values()) == {r.info.run_id for r in children.values()}
    assert set(first.values()).isdisjoint(again.values())  # replaced, not duplicated
    assert len(_children(client, "exported", ViewType.DELETED_ONLY)) == 4
    live = _children(client, "m")
    for key, run in children.items():
        assert _history(client, run.info.run_id, "val_loss") == _history(
            client, live[key].info.run_id, "val_loss")  # fmt: skip


def test_cli_export_and_live_tracking(tracked, workdir) -> None:
    store, client, report = tracked
    path, uri = workdir
    runner = CliRunner()
    result = runner.invoke(app, ["export", "--store", str(store.path), "--format", "mlflow",
                                 "--tracking-uri", uri, "--experiment", "cli",
                                 "--artifact", str(report)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "exported 4 runs to MLflow" in result.output
    assert len(_children(client, "cli")) == 4
    result = runner.invoke(app, [
        "compare", "--dataset", "digits", "--epochs", "2", "--train-size", "200", "--seeds", "1",
        "--schedule", "constant(0.05)", "--store", str(path / "cli.sqlite"), "--out", str(path / "o"),
        "--name", "live", "--track", "mlflow", "--tracking-uri", uri, "--experiment", "cli-live",
        "--track", "tensorboard", "--no-report",
    ], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"mlflow: {uri} (experiment 'cli-live')" in result.output
    (run,) = _children(client, "cli-live").values()
    assert [s for s, _ in _history(client, run.info.run_id, "val_acc")] == [0, 1]
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["ranking.json"]
    assert list((path / "o" / "tensorboard" / "live").glob("*/seed=0/events.out.tfevents.*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--track", "wandb"], "--track must be one of mlflow, tensorboard; got 'wandb'"),
        (
            ["--tracking-uri", "sqlite:///x.db"],
            "--tracking-uri and --experiment need --track mlflow",
        ),
        (["--backend", "dask"], "backend must be one of local, ray; got 'dask'"),
    ],
)
def test_cli_bad_tracking_flags(tmp_path, args, message) -> None:
    result = CliRunner().invoke(app, ["compare", "--dataset", "digits", "--schedule", "constant(0.1)",
                                      "--store", str(tmp_path / "s.sqlite"), *args])  # fmt: skip
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_the_users_model_is_tracked_live(workdir) -> None:
    """A run of the user's own model in MLflow: its params (the long fingerprint as a hash)."""
    import torch
    from torch import nn

    from schedlab.lab import compare

    path, uri = workdir
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    result = compare(
        lambda: nn.Sequential(*[nn.Linear(5, 5) for _ in range(30)], nn.Linear(5, 2)),
        (x, y), (x, y), schedules=["constant(0.05)"], seeds=1, epochs=2, batch_size=16,
        store=path / "user.sqlite", trackers=[MlflowTracker(uri, experiment="user")],
        progress=False, name="user-model",
    )  # fmt: skip
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("user")
    (child,) = [
        r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags
    ]
    assert child.data.params["model"] == "Sequential"
    assert child.data.params["fingerprint"].startswith("sha256:")
    assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == [0, 1]
    assert result.runs[0].status == "finished"
