"""`schedlab compare`, `runs` and `export` through the real typer app (in-process)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import torch
import yaml
from typer.testing import CliRunner

from schedlab.cli import app, lab_commands, report_commands  # noqa: F401  (registers them)
from schedlab.lab.runs.store import RunStore

torch.set_num_threads(1)
runner = CliRunner()


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": "digits", "model": "mlp", "optimizer": "sgd", "momentum": 0.9,
        "epochs": 5, "batch_size": 32, "train_size": 300,
        "schedules": ["const=constant(0.05)", {"cos": "cosine(lr=0.1, steps=2)"}],
        "seeds": 2, "store": str(tmp_path / "runs.sqlite"), "out": str(tmp_path / "out"),
    }))  # fmt: skip
    return path


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_compare_from_config_with_overrides_then_resume(tmp_path, config_file) -> None:
    result = invoke("compare", "--config", str(config_file), "--epochs", "2", "--name", "t",
                    "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "sweep t: 4 runs" in result.output
        and "(0 already done, 0 resumed, 4 started)" in result.output
    )
    assert "final val_acc" in result.output and "Δ [95% CI]" in result.output
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert ranking["baseline"] == "const" and ranking["metric"] == "val_acc"
    assert sorted(r["label"] for r in ranking["rows"]) == ["const", "cos"]
    cos = next(r for r in ranking["rows"] if r["label"] == "cos")
    assert cos["vs_baseline"]["n"] == 2 and 0 <= cos["vs_baseline"]["p_value"] <= 1
    with RunStore(tmp_path / "runs.sqlite") as store:
        runs = store.runs("t")
        assert [r.epochs_done for r in runs] == [2, 2, 2, 2]  # the flag beat the file's 5
        assert {r.config["momentum"] for r in runs} == {0.9}
    again = invoke("compare", "--config", str(config_file), "--epochs", "2", "--name", "t",
                   "--no-report")  # fmt: skip
    assert again.exit_code == 0 and "(4 already done, 0 resumed, 0 started)" in again.output
    # ranking options are not part of the sweep: same runs, ranked against another baseline
    other = invoke("compare", "--config", str(config_file), "--epochs", "2", "--name", "t",
                   "--no-report", "--baseline", "cosine(0.1, 2)", "--target", "0.5",
                   "--metric", "val_loss")  # fmt: skip
    assert other.exit_code == 0 and "(4 already done" in other.output, other.output
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert (ranking["baseline"], ranking["target"], ranking["metric"]) == ("cos", 0.5, "val_loss")
    assert "final val_loss" in other.output


def test_compare_writes_the_report_when_the_writer_exists(tmp_path, config_file) -> None:
    result = invoke("compare", "--config", str(config_file), "--epochs", "1", "--seeds", "1",
                    "--name", "r")  # fmt: skip
    assert result.exit_code == 0, result.output
    try:
        import schedlab.report.html  # noqa: F401
    except ImportError:
        assert "schedlab.report.html) is not installed; skipped" in result.output
    else:
        reports = list((tmp_path / "out").glob("*.htm*"))
        assert reports and "report: " in result.output


@pytest.mark.parametrize(
    ("extra", "file_values", "message"),
    [
        ([], {"epoch": 3}, "unknown key 'epoch'; valid keys: dataset, model, optimizer"),
        (["--model", "mlpx"], {}, "model must be one of mlp, mlp2, cnn, vit, linear; got 'mlpx'"),
        (["--optimizer", "rmsprop"], {}, "optimizer must be one of sgd, adam; got 'rmsprop'"),
        (["--seeds", "two"], {}, "seeds must be a count like 3 or a list like 0,4,7; got 'two'"),
        (
            ["--baseline", "linear(0.1, 0, 5)"],
            {},
            "baseline must be a label or schedule of the sweep",
        ),
        (["--metric", "f1"], {}, "metric must be one of val_acc, val_loss, train_acc, train_loss"),
        (["--schedule", "cosine(lr=0.1)"], {}, "cosine: missing required parameter 'steps'"),
        (["--dataset", "imagenet"], {}, "imagenet"),
        ([], {"schedules": None}, "no schedules"),
    ],
)
def test_bad_settings_fail_cleanly(tmp_path, config_file, extra, file_values, message) -> None:
    data = yaml.safe_load(config_file.read_text()) | file_values
    data = {k: v for k, v in data.items() if v is not None}
    config_file.write_text(yaml.safe_dump(data))
    result = invoke("compare", "--config", str(config_file), "--no-report", *extra)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing trained


def test_missing_config_file(tmp_path) -> None:
    result = invoke("compare", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such file" in result.output


def test_runs_and_export(tmp_path, config_file) -> None:
    assert invoke("compare", "--config", str(config_file), "--epochs", "2", "--name", "x",
                  "--no-report").exit_code == 0  # fmt: skip
    store = str(tmp_path / "runs.sqlite")
    listed = invoke("runs", "--store", store, "--label", "cos")
    assert listed.exit_code == 0 and "2 run(s)" in listed.output and "finished" in listed.output
    assert "const" not in listed.output
    assert "0 run(s)" in invoke("runs", "--store", store, "--status", "failed").output
    text = invoke("export", "--store", store, "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4 * 2 and {r["epoch"] for r in rows} == {"0", "1"}
    assert {r["label"] for r in rows} == {"const", "cos"} and "run_seconds" in rows[0]
    out = tmp_path / "export" / "runs.json"
    assert (
        invoke(
            "export", "--store", store, "-f", "json", "--sweep", "x", "--out", str(out)
        ).exit_code
        == 0
    )
    runs = json.loads(out.read_text())
    assert len(runs) == 4 and all(len(r["epochs"]) == 2 for r in runs)
    assert runs[0]["config"]["dataset"] == "digits"
    assert all(not math.isnan(e["val_loss"]) for r in runs for e in r["epochs"])
    bad = invoke("export", "--store", store, "--format", "xml")
    assert bad.exit_code == 2 and "format must be one of csv, json; got 'xml'" in bad.output
    missing = invoke("runs", "--store", str(tmp_path / "none.sqlite"))
    assert missing.exit_code == 2 and "no run store at" in missing.output
    assert "status must be one of" in invoke("runs", "--store", store, "--status", "ok").output


def test_compare_with_tests_prints_and_stores_the_decisions(tmp_path, config_file) -> None:
    result = invoke("compare", "--config", str(config_file), "--epochs", "2", "--name", "d",
                    "--sesoi", "0.02")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "decisions vs baseline const" in text and "TOST within the SESOI (0.0200)" in text
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert ranking["tests"] is True and ranking["sesoi"] == 0.02
    cos = next(r for r in ranking["rows"] if r["label"] == "cos")
    assert cos["verdict"] in ("better", "worse", "no difference", "inconclusive")
    assert cos["tests"]["n"] == 2 and cos["tests"]["sesoi"] == 0.02
    assert cos["verdict"] in text
    page = (tmp_path / "out" / "d.html").read_text()
    assert "<h2>Decisions</h2>" in page and "TOST" in page
    # the report command adds them to a stored sweep; without --tests it leaves them out
    store = str(tmp_path / "runs.sqlite")
    plain = invoke("report", "--store", store, "--sweep", "d", "--out", str(tmp_path / "r1"))
    assert plain.exit_code == 0 and "Decisions" not in (tmp_path / "r1" / "d.html").read_text()
    decided = invoke("report", "--store", store, "--sweep", "d", "--out", str(tmp_path / "r2"),
                     "--tests")  # fmt: skip
    assert decided.exit_code == 0 and "Decisions" in (tmp_path / "r2" / "d.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sesoi", "-1"], "sesoi must be a finite number > 0"),
        (["--sesoi", "nan"], "sesoi must be a finite number > 0"),
    ],
)
def test_bad_decision_settings_fail_before_training(tmp_path, config_file, extra, message) -> None:
    result = invoke("compare", "--config", str(config_file), "--no-report", *extra)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "runs.sqlite").exists()
