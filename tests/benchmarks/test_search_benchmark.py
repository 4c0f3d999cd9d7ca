"""The search benchmark runs end to end on a tiny grid and search (real MNIST files)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "search.py"


def _load():
    spec = importlib.util.spec_from_file_location("search_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_benchmark_tiny_run(tmp_path, data_root, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    try:
        args = ["--task", "mnist-mlp", "--epochs", "3", "--mnist-train-size", "500", "--rates",
                "2", "--trials", "3", "--data-root", str(data_root), "--store-dir",
                str(tmp_path / "stores"), "--json", str(out)]  # fmt: skip
        (result,) = _load().main(args)
    finally:
        torch.set_num_threads(threads)
    assert json.loads(out.read_text())[0]["ratio"] == result["ratio"]
    assert result["grid"]["member_epochs"] == 6 * 2 * 3 * 3  # families x rates x seeds x epochs
    assert 0 < result["search"]["member_epochs"] < result["grid"]["member_epochs"]
    assert result["search"]["budgets"] == [1, 3]
    assert "within the grid best's 95% interval" in capsys.readouterr().out
