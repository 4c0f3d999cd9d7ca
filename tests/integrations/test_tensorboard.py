"""TensorBoard event files, live and exported, read back with TensorBoard's own EventAccumulator:
loss/accuracy/rate scalars with their steps equal the store; re-exporting replaces, never duplicates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import schedlab.cli.lab_commands  # noqa: F401  (registers the commands)
from schedlab.cli import app
from schedlab.integrations.tensorboard import (
    EPOCH_SCALARS,
    TensorBoardTracker,
    export_tensorboard,
    run_dir,
)
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import RunInfo
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.train.config import TrainConfig

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
torch.set_num_threads(1)

EPOCHS, STEPS = 3, 8  # 240 training samples / batch 32
CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=EPOCHS, batch_size=32, train_size=300)
PLAN = make_plan(CONFIG, ["const=constant(0.05)", "warm=warmup(cosine(0.1, 3), 1)"], [0, 1],
                 name="tb sweep")  # fmt: skip


def _read(folder) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _assert_mirrors_store(logdir, store: RunStore) -> None:
    for row in store.runs(PLAN.name):
        folder = run_dir(logdir, RunInfo.from_row(row))
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1, folder
        scalars = _read(folder)
        assert set(scalars) == {*EPOCH_SCALARS, "lr/step"}
        epochs = store.epochs(row.id)
        for tag, field in EPOCH_SCALARS.items():  # event files hold float32
            assert [s for s, _ in scalars[tag]] == list(range(EPOCHS))
            np.testing.assert_allclose([v for _, v in scalars[tag]], [getattr(e, field) for e in epochs],
                                       rtol=1e-6)  # fmt: skip
        assert [s for s, _ in scalars["lr/step"]] == list(range(EPOCHS * STEPS))
        np.testing.assert_allclose([v for _, v in scalars["lr/step"]], store.step_lrs(row.id),
                                   rtol=1e-6)  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    path = tmp_path_factory.mktemp("tb")

    def stop(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with RunStore(path / "runs.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):  # interrupted, then resumed: no orphaned steps
            run_sweep(store, PLAN, group_size=2, trackers=[TensorBoardTracker(path / "live")],
                      progress=stop)  # fmt: skip
        run_sweep(store, PLAN, group_size=2, trackers=[TensorBoardTracker(path / "live")])
        yield path, store


def test_live_event_files_mirror_the_store(live) -> None:
    path, store = live
    _assert_mirrors_store(path / "live", store)
    folder = run_dir(path / "live", RunInfo.from_row(store.runs(PLAN.name, label="warm")[0]))
    sweep, label, seed = folder.relative_to(path / "live").parts
    assert sweep.startswith("tb_sweep-") and label == "warm" and seed == "seed=0"


def test_export_twice_equals_live(live) -> None:
    path, store = live
    dirs = export_tensorboard(store, path / "exported", PLAN.name)
    assert len(dirs) == 4
    export_tensorboard(store, path / "exported", PLAN.name)  # replaces its own event files
    _assert_mirrors_store(path / "exported", store)
    for row in store.runs(PLAN.name):
        info = RunInfo.from_row(row)
        assert _read(run_dir(path / "exported", info)) == _read(run_dir(path / "live", info))


def test_cli_export(live) -> None:
    path, store = live
    result = CliRunner().invoke(app, ["export", "--store", str(store.path), "--format",
                                      "tensorboard", "--out", str(path / "cli")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "exported 4 runs to" in result.output
    _assert_mirrors_store(path / "cli", store)
    bad = CliRunner().invoke(app, ["export", "--store", str(store.path), "--format",
                                   "tensorboard", "--experiment", "x"])  # fmt: skip
    assert bad.exit_code == 2 and "apply to --format mlflow" in bad.output


def test_bad_logdir(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="logdir must be a folder; got the file"):
        TensorBoardTracker(tmp_path / "file")
