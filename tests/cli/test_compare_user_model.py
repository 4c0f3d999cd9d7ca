"""``schedlab compare`` on the user's own model, data, optimizer, loss and metrics, named by import
strings in a YAML file or flags: real ``schedlab`` subprocesses on a tiny model file and data
loader written here (seconds), a rerun that skips and one that resumes after SIGKILL, and every
bad input as one line naming its key, exit status 2 and the store unchanged."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sigkill import sigkill_when
from typer.testing import CliRunner

from schedlab.cli import _register, app
from schedlab.lab.runs.store import RunStore

_register()
runner = CliRunner()
CODE = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"

MODEL_FILE = """
import time

import torch
from torch import nn

SLEEP = 0.0  # seconds per forward pass (to catch a sweep mid-way)


class Net(nn.Module):
    def __init__(self, width=8, p=0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Dropout(p), nn.Linear(width, 3))

    def forward(self, x):
        if SLEEP:
            time.sleep(SLEEP)
        return self.body(x)


def make(width=8, p=0.0, sleep=0.0):
    global SLEEP
    SLEEP = sleep
    return Net(width, p)


def blobs(n=96, features=4):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 3
    x = torch.randn(n, features, generator=g) + y[:, None].float()
    cut = n * 3 // 4
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def hits(out, y):
    return (out.argmax(1) == y).float().mean()


def not_a_module():
    return 42


def not_a_pair():
    return [1, 2, 3]


def nan_loss(out, y):
    return out.sum() * float("nan")


def vector_loss(out, y):
    return nn.functional.cross_entropy(out, y, reduction="none")


class NoGroups:
    def __init__(self, params, lr=0.1):
        self.params = list(params)

    def step(self):
        pass
"""

CONFIG = {
    "model": "models/tiny_net.py:make",
    "model_kwargs": {"width": 16},
    "data": "models/tiny_net.py:blobs",
    "data_kwargs": {"n": 96},
    "optimizer": "torch.optim.AdamW",
    "optimizer_kwargs": {"weight_decay": 0.01},
    "loss": "torch.nn.CrossEntropyLoss",
    "loss_kwargs": {"label_smoothing": 0.1},
    "metrics": {"hits": "models/tiny_net.py:hits"},
    "epochs": 3,
    "batch_size": 16,
    "schedules": {"const": "constant(0.01)", "cos": "cosine(0.02, 3)"},
    "seeds": 2,
    "store": "runs.sqlite",
    "out": "out",
}


@pytest.fixture
def project(tmp_path) -> Path:
    """A working directory with ``models/tiny_net.py`` (not a package, not on sys.path)."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny_net.py").write_text(MODEL_FILE)
    return tmp_path


def write_config(folder: Path, name: str = "x.yaml", **changes) -> Path:
    values = {**CONFIG, **changes}
    path = folder / name
    path.write_text(yaml.safe_dump({k: v for k, v in values.items() if v is not None}))
    return path


def schedlab(*args: str, cwd: Path, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", CODE, *args], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=300, **popen,
    )  # fmt: skip


def _rows(path: Path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT r.schedule, r.seed, e.epoch, e.val_loss, e.val_acc, e.extra FROM runs r "
            "JOIN epochs e ON e.run_id = r.id ORDER BY r.schedule, r.seed, e.epoch"
        ).fetchall()
    finally:
        db.close()


def test_compare_from_yaml_on_the_users_model_then_rerun(project) -> None:
    config = write_config(project)
    first = schedlab("compare", "--config", str(config), "--no-report", cwd=project)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "(0 already done, 0 resumed, 4 started)" in first.stdout
    # the automatic choice, named: stacked, or the plain loops where it timed them faster
    assert "engine: stacked" in first.stdout or (
        "engine: per-run (stacking measured slower on this CPU" in first.stdout
    ), first.stdout
    with RunStore(project / "runs.sqlite") as store:
        runs = store.runs()
        assert [(r.label, r.status, r.epochs_done) for r in runs] == [
            ("const", "finished", 3), ("const", "finished", 3),
            ("cos", "finished", 3), ("cos", "finished", 3),
        ]  # fmt: skip
        config_of = runs[0].config
        assert (config_of["model"], config_of["dataset"], config_of["optimizer"]) == (
            "Net(width=16)", "blobs", "AdamW",
        )  # fmt: skip
        assert config_of["loss"] == "torch.nn.modules.loss.CrossEntropyLoss(label_smoothing=0.1)"
        assert config_of["fingerprint"]["optimizer_kwargs"] == {"weight_decay": 0.01}
        epoch = store.epochs(runs[0].id)[-1]
        assert 0 <= epoch.extra["val_hits"] <= 1 and epoch.val_acc == epoch.extra["val_hits"]
    ranking = json.loads((project / "out" / "ranking.json").read_text())
    assert sorted(r["label"] for r in ranking["rows"]) == ["const", "cos"]

    again = schedlab("compare", "--config", str(config), "--no-report", cwd=project)
    assert again.returncode == 0 and "(4 already done, 0 resumed, 0 started)" in again.stdout
    # another argument of the factory is another model: new runs, not the old ones reused
    other = write_config(project, "y.yaml", model_kwargs={"width": 16, "p": 0.1})
    third = schedlab("compare", "--config", str(other), "--no-report", cwd=project)
    assert third.returncode == 0 and "(0 already done, 0 resumed, 4 started)" in third.stdout


def test_flags_name_the_users_code_too_and_the_per_run_engine(project) -> None:
    """Flags instead of YAML; the per-run engine in 2 worker processes, which cannot import the
    model file (it is sent by value)."""
    result = schedlab(
        "compare", "--model", "models/tiny_net.py:make", "--model-kwargs", "{width: 4}",
        "--data", "models/tiny_net.py:blobs", "--optimizer", "sgd", "--momentum", "0.9",
        "--metrics", "hits=models/tiny_net.py:hits", "--engine", "per-run", "--workers", "2",
        "-s", "constant(0.05)", "-s", "cosine(0.1, 2)", "--seeds", "1", "--epochs", "2",
        "--batch-size", "24", "--store", "flags.sqlite", "--out", "out", "--no-report",
        cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "engine: per-run (engine='per-run'), 2 worker processes" in result.stdout
    with RunStore(project / "flags.sqlite") as store:
        runs = store.runs()
        assert {r.status for r in runs} == {"finished"} and len(runs) == 2
        assert runs[0].config["fingerprint"]["optimizer_kwargs"] == {"momentum": 0.9}
        assert runs[0].config["optimizer"] == "SGD"


def test_a_killed_sweep_on_the_users_model_resumes(project) -> None:
    slow = {"width": 16, "sleep": 0.02}  # the same weights; slower epochs, to be caught mid-way
    config = write_config(project, model_kwargs=slow, epochs=12, seeds=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "compare", "--config", str(config), "--no-report"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    store = project / "runs.sqlite"

    def mid_way() -> bool:
        try:
            done = [d for (d,) in sqlite3.connect(store).execute("SELECT epochs_done FROM runs")]
        except sqlite3.DatabaseError:
            return False
        return bool(done) and min(done) >= 2 and max(done) < 10

    sigkill_when(proc, mid_way, "two epochs of every run committed", 240)
    before = _rows(store)
    rerun = schedlab("compare", "--config", str(config), "--no-report", cwd=project)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "(0 already done, 4 resumed, 0 started)" in rerun.stdout
    after = _rows(store)
    assert set(before) <= set(after)  # the epochs committed before the kill are kept as they were
    # the same sweep uninterrupted, into another store
    whole = schedlab("compare", "--config", str(config), "--store", "whole.sqlite",
                     "--no-report", cwd=project)  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-3000:]
    want = _rows(project / "whole.sqlite")
    assert len(after) == len(want) == 4 * 12
    for got, expected in zip(after, want, strict=True):
        assert got[:3] == expected[:3]
        assert got[3] == pytest.approx(expected[3], rel=1e-5, abs=1e-6)
        assert got[4] == pytest.approx(expected[4], abs=1e-9)


# -- bad input: one line naming the key, exit status 2, the store unchanged ---------------------

M = "models/tiny_net.py"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": f"{M}:mak"}, f"model: cannot import '{M}:mak': '{M}' has no attribute 'mak'"),
        ({"model": "models/none.py:make"}, "model: cannot load 'models/none.py:make': the file"),
        ({"model": "no_such_pkg.nets:make"}, "model: cannot import 'no_such_pkg.nets:make': no"),
        (
            {"model": f"{M}:not_a_module", "model_kwargs": None},
            "model: the factory must return a torch.nn.Module; got int",
        ),
        ({"model_kwargs": {"wid": 3}}, "model: the factory raised TypeError"),
        (
            {"data": f"{M}:not_a_pair", "data_kwargs": None},
            f"data: the loader '{M}:not_a_pair' must return (train, val); it returned a list of 3",
        ),
        ({"data_kwargs": {"features": 5}}, "data: 'models/tiny_net.py:blobs' returned data that"),
        ({"loss": f"{M}:nan_loss", "loss_kwargs": None}, "nan_loss: returned nan at initialis"),
        ({"loss": f"{M}:vector_loss", "loss_kwargs": None}, "must return a scalar tensor"),
        ({"loss": "torch.nn.CrossEntropyLos"}, "loss: cannot import 'torch.nn.CrossEntropyLos'"),
        ({"optimizer": f"{M}:NoGroups", "optimizer_kwargs": None}, "has no param_groups"),
        ({"optimizer": "torch.optim.AdamX"}, "optimizer: cannot import 'torch.optim.AdamX'"),
        ({"optimizer": "torch.optim.SGD", "optimizer_kwargs": {"lr": 1}}, "optimizer_kwargs: 'lr'"),
        ({"metrics": {"f1": f"{M}:f1"}}, f"metrics.f1: cannot import '{M}:f1'"),
        ({"optimizer_kwargs": "[1, 2]"}, "optimizer_kwargs must be a mapping"),
        ({"dataset": "mnist"}, "config: dataset applies to the built-in datasets"),
        ({"data": None}, "is the user's model: give data:"),
        ({"model": "mlp"}, "config: data_kwargs, metrics apply to the user's own model"),
        ({"engine": "fast"}, "engine must be one of auto, stacked, per-run; got 'fast'"),
        ({"batch_size": 500}, "batch_size (500) is larger than the training set (72 samples)"),
    ],
)
def test_bad_input_names_its_key_and_changes_nothing(project, changes, message) -> None:
    store = project / "runs.sqlite"
    with RunStore(store) as s:  # a store already in use
        s.ensure_sweep("other", {"k": 1})
    before = store.read_bytes()
    if changes.get("model") == "mlp":
        changes = {**changes, "data": None, "model_kwargs": None, "optimizer": "sgd",
                   "optimizer_kwargs": None, "loss": None, "loss_kwargs": None}  # fmt: skip
    config = write_config(project, **changes)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        result = runner.invoke(app, ["compare", "--config", str(config)], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last, last
    assert store.read_bytes() == before and not (project / "out").exists()


def test_bad_input_in_a_real_process(project) -> None:
    """The same from a fresh process: one line on standard error, exit 2, no store created."""
    config = write_config(project, data_kwargs={"features": 5})
    result = schedlab("compare", "--config", str(config), cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: data: ") and "(a batch of (2, 5)" in line, line
    assert not (project / "runs.sqlite").exists()


def test_the_model_file_may_move(project, tmp_path_factory) -> None:
    """The runs' identity does not depend on where the model file lies: the project copied
    elsewhere resumes its store."""
    config = write_config(project, epochs=1, seeds=1)
    assert schedlab("compare", "--config", str(config), "--no-report", cwd=project).returncode == 0
    moved = tmp_path_factory.mktemp("moved") / "project"
    shutil.copytree(project, moved)
    again = schedlab("compare", "--config", "x.yaml", "--no-report", cwd=moved)
    assert again.returncode == 0 and "(2 already done, 0 resumed, 0 started)" in again.stdout
