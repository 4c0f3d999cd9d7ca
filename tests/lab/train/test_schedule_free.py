"""schedule_free(...) members against the schedulefree package's own loop: SGD and AdamW,
BatchNorm, both user-model engines, the built-in models, resume; the optimizer mapping."""

from __future__ import annotations

import itertools

import pytest
import schedulefree
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from schedlab.adapters.torch import ScheduleLR
from schedlab.errors import ConfigError
from schedlab.lab import compare, load_dataset
from schedlab.lab.runs.store import RunStore
from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.models import build_model
from schedlab.lab.train.schedule_free import BN_BATCHES, optimizer_for
from schedlab.lab.train.setup import group_trainer

EPOCHS, BATCH = 3, 16
g = torch.Generator().manual_seed(123)
X, XV = torch.randn(96, 6, generator=g), torch.randn(40, 6, generator=g)
Y, YV = (X[:, 0] + X[:, 1] > 0).long(), (XV[:, 0] + XV[:, 1] > 0).long()


def bn_model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))


def bn_model_adam() -> nn.Module:
    """No bias before the BatchNorm: its gradient is zero, and Adam would turn the float noise of
    that zero into full-size steps that differ between engines (see test_engines.NOISE_ONLY)."""
    return nn.Sequential(
        nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2)
    )


def package_loop(model, x, y, xv, yv, opt, seed, schedule=None, batch=BATCH, epochs=EPOCHS):
    """The schedulefree README's loop: train() before training, eval() before evaluating, and
    BatchNorm statistics recomputed at x over the first training batches (in order)."""
    torch.manual_seed(seed)
    net = model()
    optimizer = opt(net.parameters())
    sched = ScheduleLR(optimizer, schedule) if schedule else None
    loader = DataLoader(
        TensorDataset(x, y), batch_size=batch, shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    losses = []
    for _ in range(epochs):
        net.train()
        optimizer.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(net(xb), yb).backward()
            optimizer.step()
            if sched:
                sched.step()
        optimizer.eval()
        net.train()
        with torch.no_grad():
            for xb, _ in itertools.islice(
                DataLoader(TensorDataset(x, y), batch_size=batch), BN_BATCHES
            ):
                net(xb)
        net.eval()
        with torch.no_grad():
            total = sum(
                float(F.cross_entropy(net(xv[i : i + batch]), yv[i : i + batch]))
                * len(yv[i : i + batch])
                for i in range(0, len(xv), batch)
            )
        losses.append(total / len(xv))
    return losses


def _stored(store, name):
    with RunStore(store) as st:
        return {(r.label, r.seed): [e.val_loss for e in st.epochs(r.id)] for r in st.runs(name)}


@pytest.mark.parametrize("engine", ["stacked", "per-run"])
def test_sgd_schedule_free_with_batchnorm_equals_the_package_loop(engine, tmp_path) -> None:
    res = compare(
        bn_model, (X, Y), (XV, YV), optimizer=(torch.optim.SGD, {"momentum": 0.9}),
        schedules={"a": "schedule_free(constant(0.1))", "b": "schedule_free(constant(0.05))",
                   "c": "constant(0.05)"},
        seeds=2, epochs=EPOCHS, batch_size=BATCH, store=tmp_path / "s.sqlite", name="sf",
        engine=engine, workers=1, progress=False,
    )  # fmt: skip
    assert engine in res.engine
    got = _stored(tmp_path / "s.sqlite", "sf")
    for (label, seed), losses in got.items():
        if label == "c":
            continue
        lr = 0.1 if label == "a" else 0.05

        def opt(p, lr=lr):
            return schedulefree.SGDScheduleFree(p, lr=lr, momentum=0.9)

        assert losses == pytest.approx(package_loop(bn_model, X, Y, XV, YV, opt, seed), rel=1e-5)


def test_adamw_schedule_free_driven_by_a_warmup(tmp_path) -> None:
    """The inner schedule drives the base rate through ScheduleLR (warmup outside the
    optimizer); Adam and AdamW both map to AdamWScheduleFree with their betas and eps."""
    spec = "schedule_free(warmup(constant(0.01), steps=4), weight_lr_power=1.0)"
    compare(
        bn_model_adam, (X, Y), (XV, YV),
        optimizer=(torch.optim.AdamW, {"betas": (0.8, 0.99), "weight_decay": 0.01}),
        schedules={"w": spec, "x": "schedule_free(constant(0.02))"}, seeds=1, epochs=EPOCHS,
        batch_size=BATCH, unit="step", store=tmp_path / "a.sqlite", name="adam", progress=False,
    )  # fmt: skip
    got = _stored(tmp_path / "a.sqlite", "adam")

    def opt(p):
        return schedulefree.AdamWScheduleFree(
            p, lr=0.0, betas=(0.8, 0.99), weight_decay=0.01, weight_lr_power=1.0
        )

    ref = package_loop(
        bn_model_adam, X, Y, XV, YV, opt, 0, schedule="warmup(constant(0.01), steps=4)"
    )
    assert got["w", 0] == pytest.approx(ref, rel=1e-5)


def test_builtin_models_train_schedule_free_with_the_package(tmp_path) -> None:
    """A built-in sweep trains its schedule_free members with the real SGDScheduleFree on the
    same model, data order and initialisation; the other members stay in the batched trainer."""
    res = compare(
        "mlp", "digits", schedules={"c": "constant(0.05)", "sf": "schedule_free(constant(0.05))"},
        seeds=1, epochs=2, batch_size=32, train_size=300, momentum=0.0, unit="step",
        store=tmp_path / "b.sqlite", name="b", progress=False,
    )  # fmt: skip
    assert "built-in batched model" in res.engine and "per-run" in res.engine
    data = load_dataset("digits", train_size=300, val_fraction=0.2, seed=0)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    xv, yv = torch.as_tensor(data.x_val), torch.as_tensor(data.y_val)

    def model():
        return build_model("mlp", data.input_shape, data.num_classes)

    def opt(p):  # SGD without momentum maps to the package's default momentum, 0.9
        return schedulefree.SGDScheduleFree(p, lr=0.05, momentum=0.9)

    ref = package_loop(model, x, y, xv, yv, opt, 0, batch=32, epochs=2)
    assert _stored(tmp_path / "b.sqlite", "b")["sf", 0] == pytest.approx(ref, rel=1e-5)


def test_a_resumed_schedule_free_member_continues_exactly(tmp_path) -> None:
    """Checkpoints hold the training point y (taken after train()): resuming equals one go."""
    config = TrainConfig(dataset="digits", model="mlp", epochs=2, batch_size=32, train_size=300)
    data = load_dataset("digits", train_size=300, val_fraction=0.2, seed=0)
    members = [Member("schedule_free(constant(0.1))", 0), Member("schedule_free(constant(0.2))", 0)]
    whole = group_trainer(config, data, members)
    straight = [whole.run_epoch(), whole.run_epoch()]
    first = group_trainer(config, data, members)
    first.run_epoch()
    states = [first.member_state(i) for i in range(2)]
    resumed = group_trainer(config, data, members, states=states)
    assert resumed.epoch == 1
    second = resumed.run_epoch()
    assert [r.val_loss for r in second] == pytest.approx(
        [r.val_loss for r in straight[1]], rel=1e-6
    )


def test_optimizer_mapping() -> None:
    cls, kw = optimizer_for(torch.optim.SGD, {"momentum": 0.0, "weight_decay": 1e-4},
                            "schedule_free(constant(0.1), r=0.5)")  # fmt: skip
    assert cls is schedulefree.SGDScheduleFree
    assert kw == {"momentum": 0.9, "weight_decay": 1e-4, "r": 0.5, "weight_lr_power": 2.0}
    cls, kw = optimizer_for(torch.optim.Adam, {"eps": 1e-6}, "schedule_free(constant(0.1))")
    assert cls is schedulefree.AdamWScheduleFree and kw["eps"] == 1e-6
    assert optimizer_for(torch.optim.SGD, {"momentum": 0.5}, "cosine(0.1, 10)") == (
        torch.optim.SGD, {"momentum": 0.5},
    )  # fmt: skip
    with pytest.raises(
        ConfigError,
        match=r"no schedule-free counterpart of optimizer torch\.optim\.rmsprop\.RMSprop",
    ):
        optimizer_for(torch.optim.RMSprop, {}, "schedule_free(constant(0.1))")
    with pytest.raises(ConfigError, match="option 'nesterov' has no schedule-free counterpart"):
        optimizer_for(
            torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, "schedule_free(constant(0.1))"
        )
