"""The hand-written-vs-autograd benchmark runs end to end on tiny sizes; its methods train alike."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "linear_backward.py"


def _load():
    spec = importlib.util.spec_from_file_location("linear_backward_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_backward_benchmark_tiny_run(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    try:
        args = ["--batch-sizes", "8", "--per-seed", "2", "--steps", "2", "--rounds", "2"]
        args += ["--warmups", "1", "--minibatches", "2", "--train-size", "200", "--threads", "1"]
        bench = _load()
        result = bench.main([*args, "--json", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert json.loads(out.read_text()) == result
    assert [(r["layout"], r["minibatches_per_step"]) for r in result["rows"]] == [
        ("shared", 3),
        ("own", 6),
    ]
    for row in result["rows"]:
        assert row["members"] == 6 and row["batch_size"] == 8
        assert set(row["ms_per_step"]) == set(bench.METHODS)
        assert all(t > 0 for t in row["ms_per_step"].values())
        assert row["ratio"]["hand-written"] == 1.0
        for method in bench.METHODS:
            assert len(row["rounds"]["wall"][method]) == len(row["rounds"]["cpu"][method]) == 2
            assert row["ratio_min"][method] <= row["ratio"][method]
            # every method trained the same members on the same minibatches
            assert row["grads_rel_gap"][method] < 1e-5, (method, row["grads_rel_gap"])
            assert row["params_rel_gap_median"][method] < 1e-4, method
            assert row["ratio_cpu"][method] > 0
    table = capsys.readouterr().out
    assert "| shared (3 minibatches) | 8 |" in table and "autograd, step / hand-written" in table
