"""The command line at its boundary: every bad path, value, store or setting ends with ONE line
``Error: ...`` naming the path or key and exit status 2, before any work and with the store left
as it was.  Real SQLite files; real ``schedlab`` subprocesses where the process matters (exit
status, standard error, locks held by another process)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from schedlab.cli import _register, app
from schedlab.lab.data.datasets import load_dataset
from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import exclusive, make_plan, run_sweep
from schedlab.lab.train.config import TrainConfig

torch.set_num_threads(1)
_register()
runner = CliRunner()
CODE = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"
TINY = ["--dataset", "digits", "--train-size", "200", "--epochs", "1", "--seeds", "1",
        "-s", "constant(0.05)", "--no-report"]  # fmt: skip
PAGE = 4096


def schedlab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``schedlab ARGS`` in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "60"}
    return subprocess.run(
        [sys.executable, "-c", CODE, *args], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=300,
    )  # fmt: skip


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result, *parts: str) -> str:
    """The exit status is 2 and standard error ends with one ``Error:`` line holding ``parts``."""
    err = result.stderr if isinstance(result, subprocess.CompletedProcess) else result.output
    code = (
        result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    )
    assert code == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: "), err[-3000:]
    for part in parts:
        assert part in last, last
    return last


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A store with one finished sweep ``s`` (digits, 2 schedules x 1 seed, 2 epochs)."""
    path = tmp_path_factory.mktemp("finished") / "runs.sqlite"
    config = TrainConfig(dataset="digits", epochs=2, batch_size=32, train_size=200)
    with RunStore(path) as store:
        run_sweep(store, make_plan(config, ["constant(0.05)", "cosine(0.1, 2)"], [0], "s"))
    return path


@pytest.fixture
def store(finished, tmp_path) -> Path:
    """A private copy of the finished store."""
    return Path(shutil.copy(finished, tmp_path / "runs.sqlite"))


def _content(path: Path) -> dict[str, list]:
    db = sqlite3.connect(path)
    try:
        return {
            t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("sweeps", "runs", "sweep_runs", "epochs", "step_lrs", "checkpoints")
        }
    finally:
        db.close()


# -- output paths -------------------------------------------------------------------------------


def test_output_paths_fail_before_any_work(tmp_path, store) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder.png").mkdir()
    s = str(store)
    cases = [
        (["compare", *TINY, "--store", "new.sqlite", "--out", "afile"], "--out: 'afile' is a file"),
        (["compare", *TINY, "--store", "new.sqlite", "--out", "afile/sub"], "'afile' is a file"),
        (["compare", *TINY, "--store", "afile/r.sqlite"], "store: 'afile' is a file, not a fold"),
        (["export", "--store", s, "--out", "folder.png"], "--out: 'folder.png' is a folder"),
        (["export", "--store", s, "--out", "afile/x.csv"], "'afile' is a file"),
        (["report", "--store", s, "--sweep", "s", "--out", "afile"], "'afile' is a file"),
        (["plot", "cosine(0.1, 10)", "--steps", "10", "--out", "folder.png"], "is a folder"),
        (["plot", "cosine(0.1, 10)", "--steps", "10", "--out", "afile/p.png"], "is a file"),
        # checked before the data is even looked for (so before any training)
        (["find-lr", "--data-root", "/no/such", "--out", "folder.png"], "--out: 'folder.png'"),
        (["find-lr", "--data-root", "/no/such", "--out", "afile/lr.png"], "'afile' is a file"),
    ]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for args, message in cases:
            one_line_error(invoke(*args), message)
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "new.sqlite").exists()  # compare stopped before opening a store
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder.png", "runs.sqlite"]


def test_one_line_from_a_real_process(tmp_path) -> None:
    (tmp_path / "afile").write_text("x")
    result = schedlab("compare", *TINY, "--out", "afile/deeper/still", cwd=tmp_path)
    one_line_error(result, "--out: cannot create 'afile/deeper/still': 'afile' is a file")
    assert len(result.stderr.strip().splitlines()) == 1  # not wrapped, even at 60 columns


def test_missing_parent_folders_of_outputs_are_created(tmp_path, store) -> None:
    png, csv = tmp_path / "a" / "b" / "p.png", tmp_path / "c" / "runs.csv"
    assert invoke("plot", "cosine(0.1, 10)", "--steps", "10", "--out", str(png)).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert invoke("export", "--store", str(store), "--out", str(csv)).exit_code == 0
    assert len(csv.read_text().splitlines()) == 1 + 2 * 2  # a header, 2 runs x 2 epochs
    assert not list(tmp_path.rglob(".*.*"))  # no temporary file left behind


def test_the_report_is_replaced_atomically(tmp_path, store) -> None:
    out = tmp_path / "report"
    assert invoke("report", "--store", str(store), "--sweep", "s", "--out", str(out)).exit_code == 0
    page = out / "s.html"
    first = page.read_bytes()
    with open(page, "rb") as reader:  # a reader of the old report while it is rewritten
        inode = os.fstat(reader.fileno()).st_ino
        result = invoke("report", "--store", str(store), "--sweep", "s", "--out", str(out))
        assert result.exit_code == 0
        assert reader.read() == first  # it still reads the whole old file, not a truncated one
    assert page.stat().st_ino != inode  # a new file renamed over the old one
    assert sorted(p.name for p in out.iterdir()) == ["s.html"]  # no temporary file left


# -- stores -------------------------------------------------------------------------------------


def _damage(path: Path) -> None:
    """Make the root page of ``runs`` (an interior page once it spans pages) list 10 of its
    children: a plain read then silently skips the others."""
    db = sqlite3.connect(path)
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name='runs'").fetchone()
    db.close()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * PAGE)
        page = bytearray(fh.read(PAGE))
        assert page[0] == 5  # an interior table page
        page[3:5] = (10).to_bytes(2, "big")
        fh.seek((root - 1) * PAGE)
        fh.write(page)


def test_a_damaged_store_is_refused_by_every_command(tmp_path) -> None:
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:  # 300 runs: the runs table spans pages
        store.ensure_sweep("w", {"k": 1})
        config = {"dataset": "digits", "model": "mlp", "optimizer": "sgd", "epochs": 1}
        store.ensure_runs(
            "w", config, "h" * 64, [("c", f"constant(lr={i})", 0) for i in range(300)]
        )
    _damage(path)
    for args in (["runs", "--store", "runs.sqlite"], ["compare", *TINY, "--store", "runs.sqlite"]):
        result = schedlab(*args, cwd=tmp_path)
        one_line_error(result, "store: 'runs.sqlite' is damaged", ".recover")
    s, out = str(path), str(tmp_path / "out")
    for args in (
        ["export", "--store", s, "--format", "json"],
        ["report", "--store", s, "--sweep", "w", "--out", out],
    ):
        one_line_error(invoke(*args), f"store: {s!r} is damaged")
    assert not (tmp_path / "out").exists()


def test_integers_too_large_for_the_store_name_the_key(tmp_path, store) -> None:
    one_line_error(invoke("runs", "--store", str(store), "--seed", str(10**20)), "seed must be")
    before = _content(store)
    for flag, value, key in [
        ("--seeds", f"{10**20},", "seeds must be"),
        ("--epochs", str(10**20), "epochs must be an integer below 2**63"),
    ]:
        one_line_error(invoke("compare", *TINY, "--store", str(store), flag, value), key)
    assert _content(store) == before


def test_a_symlink_to_a_store_in_use_is_in_use(tmp_path, store) -> None:
    link = tmp_path / "link.sqlite"
    link.symlink_to(store)
    before = _content(store)
    with RunStore(link) as via_link, exclusive(via_link):  # "another sweep" holds the link
        result = schedlab("compare", *TINY, "--store", str(store), cwd=tmp_path)
    one_line_error(result, "is in use by another sweep", f"pid {os.getpid()}")
    assert _content(store) == before


# -- settings refused before anything is stored -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "imagenet"], "name must be one of mnist"),
        (["--loss", "mse", "--model", "linear"], "loss must be 'cross_entropy' for a classif"),
        (["--batch-size", "5000"], "batch_size (5000) is larger than the training split"),
        (["--data-root", "/no/such/folder"], "root '/no/such/folder' does not exist"),
        (["--dataset", "linreg", "--metric", "val_acc"], "metric 'val_acc' does not exist for"),
        (["--seeds", "100000"], "for the one seed 100000, give a list: '100000,'"),
        (["--device", "cuda:0" if not torch.cuda.is_available() else "tpu"], "device"),
    ],
)
def test_rejected_compare_leaves_the_store_as_it_was(store, args, message) -> None:
    before = store.read_bytes()
    one_line_error(invoke("compare", *TINY, "--store", str(store), *args), message)
    assert store.read_bytes() == before


def test_a_rejected_compare_in_a_real_process_stores_nothing(tmp_path, store) -> None:
    before = _content(store)
    result = schedlab(
        "compare", *TINY, "--store", str(store), "--dataset", "imagenet", cwd=tmp_path
    )
    one_line_error(result, "load_dataset: name must be one of")
    assert _content(store) == before


def test_defaults_work_on_every_small_dataset(tmp_path) -> None:
    for dataset, metric in (("linreg", "val_loss"), ("digits", "val_acc")):
        result = invoke("compare", "--dataset", dataset, "--epochs", "1", "--seeds", "1",
                        "-s", "constant(0.01)", "--no-report", "--name", dataset,
                        "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / dataset))  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f'"metric": "{metric}"' in (tmp_path / dataset / "ranking.json").read_text()
    with RunStore(tmp_path / "r.sqlite") as store:  # their whole training split by default
        assert {r.config["train_size"] for r in store.runs()} == {None}
        assert {r.status for r in store.runs()} == {"finished"}


def test_other_silent_acceptances_are_errors(tmp_path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes("name: caf\xe9\n".encode("latin-1"))
    one_line_error(invoke("compare", "--config", str(config)), f"{str(config)!r} is not UTF-8")
    one_line_error(
        invoke(
            "find-lr", "--optimizer", "adam", "--momentum", "0.9", "--out", str(tmp_path / "a.png")
        ),
        "--momentum applies to --optimizer sgd only",
    )
    one_line_error(
        invoke("plot", "cosine(0.1, 10)", "--steps", str(10**9), "--out", str(tmp_path / "p.png")),
        "--steps: at most 10,000,000 steps are drawn",
    )
    assert not list(tmp_path.glob("*.png"))


# -- schedlab runs --delete ---------------------------------------------------------------------


def _with_failed_runs(path: Path) -> None:
    """Add sweep ``f`` to the store: one finished run shared with ``s`` and two failed runs."""
    config = TrainConfig(dataset="digits", epochs=2, batch_size=32, train_size=200)
    data = load_dataset("digits", train_size=200)
    import dataclasses

    broken = dataclasses.replace(data, input_shape=(1, 4, 4))  # the model cannot take it
    with RunStore(path) as store:
        plan = make_plan(config, ["constant(0.3)", "constant(0.4)"], [0], "f")
        with pytest.raises(RuntimeError):
            run_sweep(store, plan, dataset=broken)
        store.ensure_runs("f", config.to_dict(), config.config_hash(),
                          [("c", "constant(lr=0.05)", 0)])  # fmt: skip


def test_runs_delete_needs_a_filter_and_yes(tmp_path, store) -> None:
    _with_failed_runs(store)
    before = _content(store)
    one_line_error(invoke("runs", "--store", str(store), "--delete"), "needs a filter")
    one_line_error(invoke("runs", "--store", str(store), "--yes"), "--yes confirms")
    dry = invoke("runs", "--store", str(store), "--delete", "--status", "failed")
    assert dry.exit_code == 0 and "2 run(s) would be deleted" in dry.output, dry.output
    assert _content(store) == before
    with RunStore(store) as held, exclusive(held):  # a sweep is writing: refused
        busy = schedlab("runs", "--store", str(store), "--delete", "--status", "failed", "--yes",
                        cwd=tmp_path)  # fmt: skip
    one_line_error(busy, "is in use by another sweep")
    assert _content(store) == before


def test_runs_delete_removes_runs_with_everything_stored_for_them(tmp_path, store) -> None:
    _with_failed_runs(store)
    with RunStore(store) as s:
        failed = {r.id for r in s.runs(status="failed")}
        shared = next(r.id for r in s.runs("f") if r.status == "finished")
    assert len(failed) == 2
    result = schedlab("runs", "--store", str(store), "--delete", "--status", "failed", "--yes",
                      cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "deleted 2 run(s)" in result.stdout
    gone = _content(store)
    assert not {r[0] for r in gone["runs"]} & failed
    assert all(not {r[0] for r in gone[t]} & failed for t in ("epochs", "step_lrs", "checkpoints"))
    assert not {r[1] for r in gone["sweep_runs"]} & failed
    # deleting by sweep removes a run shared with another sweep from both, and says so
    result = invoke("runs", "--store", str(store), "--delete", "--sweep", "f", "--yes")
    assert result.exit_code == 0 and "also from sweep(s) 's'" in result.output, result.output
    assert "sweep(s) left empty and deleted: f" in result.output
    with RunStore(store) as s:
        assert [r.label for r in s.runs()] == ["cosine(0.1, 2)"]
        assert shared not in {r.id for r in s.runs()}
        assert [w.name for w in s.sweeps()] == ["s"]
