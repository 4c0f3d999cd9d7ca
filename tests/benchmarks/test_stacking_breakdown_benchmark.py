"""The stacking breakdown runs end to end on a small batch and prints its table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stacking_breakdown.py"


def test_stacking_breakdown_tiny_run(capsys, data_root, monkeypatch) -> None:
    monkeypatch.setenv("SCHEDLAB_DATA", str(data_root))
    spec = importlib.util.spec_from_file_location("stacking_breakdown", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--models", "mlp", "--ks", "2", "--batch", "8", "--repeats", "1"])
    assert [(r["model"], r["k"]) for r in rows] == [("mlp", 2)]
    assert rows[0]["alone_ms"] > 0 and rows[0]["stacked_ms"] > 0
    assert rows[0]["ratio"] == rows[0]["stacked_ms"] / (2 * rows[0]["alone_ms"])
    assert "| mlp | 2 |" in capsys.readouterr().out
