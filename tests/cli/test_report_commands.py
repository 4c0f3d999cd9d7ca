"""``schedlab plot``, ``check``, ``report`` and ``find-lr`` through the real command line app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import schedlab
from schedlab.cli import _register, app

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
runner = CliRunner()
_register()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_plot_writes_png_and_svg(tmp_path):
    png, svg = tmp_path / "s.png", tmp_path / "s.svg"
    r = invoke(
        "plot", "cosine(0.1, 100)", "one_cycle(0.1, 100)", "--steps", "100", "--out", str(png)
    )
    assert r.exit_code == 0 and png.read_bytes().startswith(b"\x89PNG")
    r = invoke("plot", "step(0.1, 10)", "--steps", "50", "--log", "--steps-per-epoch", "5",
               "--out", str(svg))  # fmt: skip
    assert r.exit_code == 0 and b"<svg" in svg.read_bytes()[:400]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cosine(0.1, 100)", "--steps", "0"], "steps must be a positive integer; got 0"),
        (["cosin(0.1, 100)", "--steps", "10"], "unknown schedule kind 'cosin'"),
        (["cosine(0.1, 100)", "--steps", "10", "--out", "x.pdf"], "out must end in .png or .svg"),
    ],
)
def test_plot_bad_input_exits_2(args, message):
    r = runner.invoke(app, ["plot", *args])
    assert r.exit_code == 2 and message in r.output


def test_check_reports_pitfalls_with_fix_specs_and_strict_exit():
    r = invoke("check", "cosine(0.1, steps=10)", "--steps", "100", "--optimizer", "adam")
    assert r.exit_code == 0
    assert {"SL001", "SL002", "SL008"} <= set(re.findall(r"SL\d{3}", r.output))
    fixes = re.findall(r"^  fix: (.+)$", r.output, flags=re.M)
    assert len(fixes) == 3 and all(schedlab.from_spec(f) for f in fixes)
    assert invoke("check", "cosine(0.1, steps=10)", "--steps", "100", "--strict").exit_code == 1


def test_check_clean_and_json():
    r = invoke("check", "warmup(cosine(lr=0.001, steps=950), steps=50)", "--steps", "1000",
               "--model", "vit", "--optimizer", "adam", "--strict")  # fmt: skip
    assert r.exit_code == 0 and "no pitfalls found" in r.output
    r = invoke("check", "cosine(0.1, 1000)", "--steps", "10", "--steps-per-epoch", "100", "--json")
    found = {f["id"]: f for f in json.loads(r.output)}
    assert found["SL006"]["fix"] == "cosine(lr=0.1, steps=10)"


def test_check_bad_context_exits_2():
    r = runner.invoke(app, ["check", "cosine(0.1, 10)", "--steps", "10", "--optimizer", "lbfgs"])
    assert r.exit_code == 2 and "optimizer must be one of sgd, adam, adamw; got 'lbfgs'" in r.output


def test_report_command(tmp_path):
    import torch

    from schedlab.lab.runs.store import RunStore
    from schedlab.lab.sweeps import make_plan, run_sweep
    from schedlab.lab.train.config import TrainConfig

    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    torch.set_num_threads(1)
    store = tmp_path / "runs.sqlite"
    config = TrainConfig(dataset="mnist", epochs=2, train_size=500)
    plan = make_plan(config, ["constant(0.1)", "cosine(0.1, 2)"], seeds=[0], name="cli")
    with RunStore(store) as s:
        run_sweep(s, plan, data_root=str(SHARED_DATA))
    r = invoke("report", "--store", str(store), "--sweep", "cli", "--out", str(tmp_path / "out"))
    assert r.exit_code == 0
    page = (tmp_path / "out" / "cli.html").read_text()
    assert "cosine(0.1, 2)" in page and "<h2>Recommendation</h2>" in page
    r = runner.invoke(
        app, ["report", "--store", str(store), "--sweep", "x", "--out", str(tmp_path)]
    )
    assert r.exit_code == 2 and "no sweep named 'x'" in r.output


def test_find_lr_command(tmp_path):
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    out = tmp_path / "lr.png"
    r = invoke("find-lr", "--dataset", "mnist", "--model", "mlp", "--train-size", "1000",
               "--num-steps", "40", "--epochs", "3", "--data-root", str(SHARED_DATA),
               "--out", str(out))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG")
    one = re.search(r"suggested one-cycle: (.+)", r.output).group(1)
    cyc = re.search(r"suggested cyclic:\s+(.+)", r.output).group(1)
    one_cycle, cyclic = schedlab.from_spec(one), schedlab.from_spec(cyc)
    assert one_cycle.params["steps"] == 3 * 13  # 800 training samples / 64 per batch = 13 steps
    assert cyclic.params["step_size_up"] == 2 * 13
    assert "steepest descent" in r.output and "min loss / 10" in r.output
