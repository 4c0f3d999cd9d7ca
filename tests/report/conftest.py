"""A real run store, trained once per test session on real MNIST (small: 8 runs x 5 epochs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_sweep import SCHEDULES, SWEEP


@pytest.fixture(scope="session")
def store_path(tmp_path_factory, data_root) -> Path:
    import torch

    from schedlab.lab.runs.store import RunStore
    from schedlab.lab.sweeps import make_plan, run_sweep
    from schedlab.lab.train.config import TrainConfig

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    config = TrainConfig(dataset="mnist", model="mlp", optimizer="sgd", momentum=0.9, epochs=5,
                         batch_size=64, train_size=1200)  # fmt: skip
    plan = make_plan(config, SCHEDULES, seeds=[0, 1], name=SWEEP)
    with RunStore(path) as store:
        run_sweep(store, plan, data_root=str(data_root))
    return path
