"""The sweep benchmark runs end to end on a tiny sweep and its two methods train the same models."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sweep.py"


def _load():
    spec = importlib.util.spec_from_file_location("sweep_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sweep_benchmark_tiny_run(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    try:
        args = [
            "--epochs",
            "1",
            "--batch-sizes",
            "64",
            "--threads",
            "1",
            "--train-size",
            "500",
            "--json",
        ]
        result = _load().main([*args, str(out)])
    finally:
        torch.set_num_threads(threads)
    assert json.loads(out.read_text()) == result
    assert result["members"] == 15 and result["train_samples"] == 400
    (row,) = result["rows"]
    for key in ("batched_s_per_epoch", "sequential_s_per_epoch", "unshared_s_per_epoch"):
        assert row[key] > 0, key
    assert 0 < row["matmul_fraction"] < 2 and row["speedup"] > 0
    assert (
        row["matmul_fraction_min"] <= row["matmul_fraction"]
        and row["speedup_min"] <= row["speedup"]
    )
    (round_,) = row["rounds"]  # --repeats 1: one round, its raw timings kept
    assert round_["wall_seq"] / round_["wall"] == row["speedup"]
    # seed-ordered batched members (shared minibatches) train what 15 plain loops train
    assert row["val_loss_rel_diff_median"] < 1e-5, row
    table = capsys.readouterr().out
    assert "| 64 |" in table and "unshared s/epoch" in table
