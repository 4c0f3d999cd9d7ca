"""`schedlab search`: bad families and ranges get one line each (exit 2, nothing stored), and a
real search process killed with SIGKILL mid-way resumes to the result of an uninterrupted one."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
import torch
import yaml
from sigkill import sigkill_when
from typer.testing import CliRunner

from schedlab.cli import app, lab_commands, search_commands  # noqa: F401  (register the commands)
from schedlab.lab.searches.search import run_search
from schedlab.lab.train.config import TrainConfig

runner = CliRunner()
FAMILIES = {
    "const": "constant(?)",
    "wsd": "wsd(lr=?, steps=E, decay_steps=0.2*E)",
    "cos": "cosine(lr=?, steps=E)",
}
SETTINGS = {
    "dataset": "digits", "model": "mlp", "optimizer": "sgd", "momentum": 0.9, "epochs": 6,
    "batch_size": 32, "train_size": 300, "unit": "step", "seeds": 2, "families": FAMILIES,
    "ranges": {"lr": "loguniform(1e-2, 1)"}, "trials": 3, "rungs": [2, 6], "name": "crash",
    "group_size": 4,
}  # fmt: skip


def _config(tmp_path, **extra):
    path = tmp_path / "search.yaml"
    body = {
        **SETTINGS,
        "store": str(tmp_path / "runs.sqlite"),
        "out": str(tmp_path / "out"),
        **extra,
    }
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--range", "lr=loguniform(0, 1)"], "ranges: lr: loguniform needs 0 < low < high; got 'loguniform(0, 1)'"),
        (["--range", "lr=uniform(1, 0.5)"], "ranges: lr: uniform needs low < high"),
        (["--range", "gamma=uniform(0, 1)"], "ranges: 'gamma' is not a free parameter of any family"),
        (["--range", "lr"], "ranges: write NAME=RANGE"),
        (["--family", "x=cosin(lr=?, steps=E)"], "family 'x' (cosin(lr=?, steps=E)): unknown schedule kind 'cosin'"),
        (["--family", "x=cosine(lr=0.1, steps=E)"], "family 'x' (cosine(lr=0.1, steps=E)): no free parameter"),
        (["--family", "x=linear(?, 0)"], "family 'x' (linear(?, 0)) at start_lr=0.01, E=16: linear: missing required parameter 'steps'"),
        (["--family", "x=cosine(lr=?, steps=E, gamma=2)"], "cosine has no parameter 'gamma'"),
        (["--contenders", "ancient"], "contenders must be one of modern; got 'ancient'"),
        (["--pruner", "median"], "pruner must be one of halving, asha, none"),
        (["--sampler", "cmaes"], "sampler must be one of qmc, tpe, random, grid"),
        (["--trials", "0"], "trials must be an integer >= 1"),
        (["--snippets", "rust"], "--snippets must be one of all, pytorch, none"),
    ],
)  # fmt: skip
def test_bad_families_and_ranges_fail_in_one_line(tmp_path, args, message) -> None:
    result = runner.invoke(app, ["search", "--config", str(_config(tmp_path)), *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    text = " ".join(" ".join(lines).split())
    assert text.startswith("Error:") and message in text
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs.sqlite").exists() and not (tmp_path / "out").exists()


def test_an_unknown_config_key_is_one_line(tmp_path) -> None:
    path = _config(tmp_path, schedules=["constant(0.1)"])
    result = runner.invoke(app, ["search", "--config", str(path)])
    assert result.exit_code == 2 and "unknown key 'schedules'" in result.output


def _command(config) -> list[str]:
    code = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"
    return [sys.executable, "-c", code, "search", "--config", str(config), "--no-report"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _runs(path) -> dict[int, tuple]:
    """run id -> (status, epochs_done, epochs, [(epoch, val_loss, committed)])."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        out = {}
        for rid, status, done, epochs in db.execute(
            "SELECT id, status, epochs_done, epochs FROM runs"
        ):
            rows = db.execute(
                "SELECT epoch, val_loss, committed FROM epochs WHERE run_id=? ORDER BY epoch",
                (rid,),
            ).fetchall()
            out[rid] = (status, done, epochs, rows)
        return out
    finally:
        db.close()


def _mid_search(path) -> bool:
    """Some run finished and another part-way, in the final comparison (its sweep exists)."""
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute(
                "SELECT r.status, r.epochs_done, r.epochs FROM runs r JOIN sweep_runs sr ON "
                "sr.run_id = r.id JOIN sweeps s ON s.id = sr.sweep_id WHERE s.name = 'crash'"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False
    return any(0 < done < epochs for _, done, epochs in rows)


def test_sigkill_mid_search_then_resume(tmp_path) -> None:
    config = _config(tmp_path)
    store = tmp_path / "runs.sqlite"
    proc = subprocess.Popen(_command(config), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path)  # fmt: skip
    sigkill_when(proc, lambda: _mid_search(store), "the final comparison to start", 400)
    before = _runs(store)
    finished = {rid: row for rid, row in before.items() if row[0] == "finished"}
    assert finished and len(finished) < len(before)

    rerun = subprocess.run(_command(config), env=_env(), capture_output=True, text=True,
                           cwd=tmp_path, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "winner:" in rerun.stdout and "--- pytorch ---" in rerun.stdout
    lines = [
        ln for ln in rerun.stdout.splitlines() if ln.strip().startswith("scheduler = ScheduleLR(")
    ]
    assert len(lines) == 3  # PyTorch, Hugging Face, Lightning
    assert all(ln.endswith("# t counts optimizer steps") for ln in lines)  # unwrapped: pasteable
    after = _runs(store)
    for rid, row in finished.items():
        assert after[rid] == row  # not lost, not repeated: the same rows, the same commit times
    # every rung run and final run is finished; the trunks of pruned candidates stop part-way
    db = sqlite3.connect(store)
    trunk_only = {
        rid for (rid,) in db.execute(
            "SELECT run_id FROM sweep_runs GROUP BY run_id HAVING min(sweep_id IN (SELECT id FROM "
            "sweeps WHERE name LIKE 'crash/trunks%')) = 1"
        )
    }  # fmt: skip
    db.close()
    assert trunk_only
    for rid, (status, done, epochs, _) in after.items():
        if rid not in trunk_only:
            assert status == "finished" and done == epochs
    saved = json.loads((tmp_path / "out" / "search.json").read_text())

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess
    try:
        fresh = run_search(
            TrainConfig(**{k: SETTINGS[k] for k in ("dataset", "model", "optimizer", "momentum",
                                                    "epochs", "batch_size", "train_size", "unit")}),
            FAMILIES, (0, 1), ranges=SETTINGS["ranges"], store=tmp_path / "fresh.sqlite",
            name="crash", trials=3, rungs=(2, 6), group_size=4,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert saved["winner"]["spec"] == fresh.winner.spec
    got = {row["label"]: row["final"]["mean"] for row in saved["ranking"]["rows"]}
    want = {row.label: row.final.mean for row in fresh.ranking}
    assert got.keys() == want.keys()
    for label, value in want.items():
        assert got[label] == pytest.approx(value, abs=1e-9)
    assert saved["member_epochs"] == fresh.member_epochs


MODEL_FILE = """
import torch
from torch import nn


def make(width=4):
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return (x[:48], y[:48]), (x[48:], y[48:])
"""


def test_the_users_own_model_from_files(tmp_path) -> None:
    (tmp_path / "mine.py").write_text(MODEL_FILE)
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({
        "model": f"{tmp_path / 'mine.py'}:make", "model_kwargs": {"width": 8},
        "data": f"{tmp_path / 'mine.py'}:data", "optimizer": "torch.optim.AdamW",
        "optimizer_kwargs": {"weight_decay": 0.01}, "epochs": 3, "batch_size": 16, "unit": "step",
        "families": ["cos=cosine(lr=?, steps=E)"], "ranges": {"lr": "loguniform(1e-3, 1e-1)"},
        "rungs": [1, 3], "trials": 3, "seeds": 2, "store": str(tmp_path / "r.sqlite"),
        "out": str(tmp_path / "out"),
    }))  # fmt: skip
    result = runner.invoke(app, ["search", "--config", str(config), "--no-report"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "winner: cos with lr=" in out and "torch.optim.AdamW(model.parameters()" in out
    saved = json.loads((tmp_path / "out" / "search.json").read_text())
    assert saved["settings"]["config"]["optimizer"] == "AdamW"
    assert saved["settings"]["config"]["fingerprint"]["optimizer_kwargs"] == {"weight_decay": 0.01}
    bad = runner.invoke(app, ["search", "--config", str(config), "--data", "nowhere.py:data"])
    assert bad.exit_code == 2 and "data: no such file 'nowhere.py'" in bad.output
    mixed = runner.invoke(app, ["search", "--config", str(config), "--train-size", "100"])
    assert mixed.exit_code == 2 and "train_size apply to built-in models only" in mixed.output
