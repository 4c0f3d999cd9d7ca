"""``schedlab compare --script file.py:train``: the user's own training function from the command
line (``run_trials``), in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from schedlab.lab.runs.store import RunStore

CODE = "import sys; from schedlab.cli import main; sys.argv[0] = 'schedlab'; main()"
SCRIPT = """
import torch
from torch import nn

X = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


def train(trial):
    torch.manual_seed(trial.seed)
    net = nn.Linear(4, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = trial.torch_scheduler(opt, steps_per_epoch=1)
    for epoch in range(trial.epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(X), Y)
        loss.backward()
        opt.step()
        sched.step()
        acc = (net(X).argmax(1) == Y).float().mean().item()
        trial.report(epoch, train_loss=loss.item(), val_loss=loss.item(), val_acc=acc)
"""


def _schedlab(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CODE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_script_runs_ranks_and_resumes(tmp_path) -> None:
    (tmp_path / "mytrain.py").write_text(SCRIPT)
    args = ["compare", "--script", "mytrain.py:train", "-s", "const=constant(0.1)",
            "-s", "cos=cosine(0.5, 3)", "--seeds", "2", "--epochs", "3", "--store", "s.sqlite",
            "--out", "out"]  # fmt: skip
    first = _schedlab(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "4 runs" in first.stdout and "4 started" in first.stdout
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert sorted(r["label"] for r in ranking["rows"]) == ["const", "cos"]
    assert list((tmp_path / "out").glob("*.html"))
    again = _schedlab(*args, cwd=tmp_path)
    assert again.returncode == 0 and "4 already done" in again.stdout
    with RunStore(tmp_path / "s.sqlite") as store:
        assert {r.status for r in store.runs()} == {"finished"}


def test_script_refuses_model_keys_and_bad_paths(tmp_path) -> None:
    (tmp_path / "mytrain.py").write_text(SCRIPT)
    mixed = _schedlab("compare", "--script", "mytrain.py:train", "--model", "mlp", "-s",
                      "constant(0.1)", "--store", "s.sqlite", cwd=tmp_path)  # fmt: skip
    assert mixed.returncode == 2 and "do not apply with script" in mixed.stderr
    missing = _schedlab("compare", "--script", "mytrain.py:nope", "-s", "constant(0.1)",
                        "--store", "s.sqlite", cwd=tmp_path)  # fmt: skip
    assert (
        missing.returncode == 2 and "script" in missing.stderr and "Traceback" not in missing.stderr
    )
    assert not (tmp_path / "s.sqlite").exists()
