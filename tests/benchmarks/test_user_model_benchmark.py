"""The user-model benchmark runs end to end on a tiny sweep: its methods train the same runs, its
memory probes report, and it prints its table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "user_model.py"


def _load():
    spec = importlib.util.spec_from_file_location("user_model_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_user_model_benchmark_tiny_run(tmp_path, capsys, data_root, monkeypatch) -> None:
    monkeypatch.setenv("SCHEDLAB_DATA", str(data_root))
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    args = ["--epochs", "1", "--train-size", "250", "--repeats", "1", "--threads", "1",
            "--methods", "stacked", "sequential", "--json", str(out)]  # fmt: skip
    try:
        result = _load().main(args)
    finally:
        torch.set_num_threads(threads)
    assert json.loads(out.read_text()) == result
    assert result["runs"] == 12 and result["train_samples"] == 200
    assert result["parameters"] == 105_914
    (round_,) = result["rounds"]
    assert round_["sequential_s"] / round_["stacked_s"] == result["speedup"] > 0
    # 4 steps of the same runs: the stacked engine trains what the plain loops train, to float32
    # rounding amplified by a rate of 0.1 with momentum 0.9 (docs/your-model.md, pitfalls)
    assert result["rel_diff_median"] < 1e-3 and result["rel_diff_max"] < 0.05, result
    for key in ("base_rss_mib", "one_run_rss_mib", "stacked_rss_mib"):
        assert result[key] > 50, key
    assert result["base_rss_mib"] < result["stacked_rss_mib"]
    table = capsys.readouterr().out
    assert "| cnn (105,914 parameters), 12 runs, sgd |" in table and "Peak RSS" in table
