"""The small real sweep the report tests train (see conftest.py)."""

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SWEEP = "report-demo"
SCHEDULES = [
    ("constant", "constant(0.05)"),
    ("cosine", "cosine(lr=0.1, steps=5, min_lr=0.001)"),
    ("early", "step(0.05, step_size=1, gamma=0.1)"),  # decays to its floor too early (SL001)
    ("diverge", "constant(100.0)"),  # NaN loss
]
