"""The user's own model and training function on a real local Ray cluster, equal to local runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

ray = pytest.importorskip("ray")

from schedlab.lab import compare, run_trials  # noqa: E402
from schedlab.lab.sweeps.backends.ray import RayBackend  # noqa: E402

G = torch.Generator().manual_seed(0)
X = torch.randn(96, 6, generator=G)
Y = (X[:, 0] > 0).long()
SCHEDULES = {"const": "constant(0.1)", "cos": "cosine(0.3, 3)"}


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _compare(store, backend=None):
    return compare(
        net, (X[:64], Y[:64]), (X[64:], Y[64:]), schedules=SCHEDULES, seeds=2, epochs=3,
        batch_size=16, store=store, progress=False, workers=1, backend=backend,
        engine="stacked",  # what this test checks on Ray (auto may time the tiny net per run)
    )  # fmt: skip


def test_compare_on_ray_equals_local(cluster, tmp_path) -> None:
    local = _compare(tmp_path / "local.sqlite")
    remote = _compare(tmp_path / "ray.sqlite", backend=RayBackend(workers=2))
    assert remote.name == local.name and remote.engine.startswith("stacked")
    for a, b in zip(local.ranking, remote.ranking, strict=True):
        assert a.label == b.label and a.final.mean == pytest.approx(b.final.mean, abs=1e-6)


def train(trial) -> None:
    torch.manual_seed(trial.seed)
    model = nn.Linear(6, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = trial.torch_scheduler(opt, steps_per_epoch=1)
    for epoch in range(trial.epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        sched.step()
        trial.report(epoch, val_loss=loss.item())


def test_run_trials_on_ray_equals_local(cluster, tmp_path) -> None:
    args = dict(schedules=SCHEDULES, seeds=2, epochs=3, progress=False)
    local = run_trials(train, store=tmp_path / "a.sqlite", **args)
    remote = run_trials(train, store=tmp_path / "b.sqlite", backend="ray", **args)
    assert {r.status for r in remote.runs} == {"finished"}
    for a, b in zip(local.ranking, remote.ranking, strict=True):
        assert a.label == b.label and a.final.mean == pytest.approx(b.final.mean, abs=1e-7)
