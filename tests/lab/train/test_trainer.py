"""The batched trainer against training each member alone with a plain torch loop."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from schedlab.lab import load_dataset
from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.models import build_model
from schedlab.lab.train.rates import epoch_rates, make_policies, observe
from schedlab.lab.train.trainer import BatchedTrainer, EpochRecord
from schedlab.schedules.plateau import Plateau, policy_from_spec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def mnist():
    # 250 training samples: with batch 32 the last batch of every epoch has 26 samples.
    return load_dataset("mnist", train_size=313, val_fraction=0.2, seed=0, download=False)


@pytest.fixture(scope="module")
def linreg():
    return load_dataset("linreg", train_size=200, seed=0, download=False)


def train_alone(config: TrainConfig, ds, member: Member, epochs: int):
    """One member trained the usual way: torch.nn model, torch.optim, a shuffling DataLoader."""
    policy = policy_from_spec(member.schedule)
    torch.manual_seed(member.seed)
    model = build_model(config.model, ds.input_shape, ds.num_classes)
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=0.0, momentum=config.momentum, weight_decay=config.weight_decay
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.0, weight_decay=config.weight_decay)
    plateau = None
    if isinstance(policy, Plateau):
        spec = policy.spec()
        for group in opt.param_groups:
            group["lr"] = spec["lr"]
        keys = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr")
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, eps=spec["eps"], **{k: spec[k] for k in keys}
        )
    regression = ds.task == "regression"

    def loss_fn(out, y):
        return F.mse_loss(out.squeeze(-1), y) if regression else F.cross_entropy(out, y)

    data = TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train))
    loader = DataLoader(
        data,
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(member.seed),
    )
    history, step = [], 0
    for epoch in range(epochs):
        total, lrs = 0.0, []
        for xb, yb in loader:
            if plateau is None:
                lr = policy(epoch if config.unit == "epoch" else step)
                for group in opt.param_groups:
                    group["lr"] = lr
            lrs.append(opt.param_groups[0]["lr"])
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            step += 1
        with torch.no_grad():
            val_loss = loss_fn(model(torch.from_numpy(ds.x_val)), torch.from_numpy(ds.y_val)).item()
        if plateau is not None:
            plateau.step(val_loss)
        history.append((total / len(data), val_loss, lrs))
    return model.state_dict(), history


def assert_matches_alone(trainer: BatchedTrainer, records, ds, *, rtol=1e-4, atol=2e-5):
    """Float32 tolerance: after one epoch the two paths agree to ~1e-8; momentum and large rates
    amplify the rounding differences of batched vs single matmuls to ~1e-5 after three epochs
    (a wrong data order, rate or update rule differs by ~1e-2)."""
    config = trainer.config
    for i, member in enumerate(trainer.members):
        weights, history = train_alone(config, ds, member, len(records))
        batched = trainer.model.member_parameters(i)
        for key, expected in weights.items():
            torch.testing.assert_close(batched[key], expected, rtol=rtol, atol=atol, msg=key)
        for epoch, (train_loss, val_loss, lrs) in enumerate(history):
            rec = records[epoch][i]
            assert rec.member == i and rec.epoch == epoch
            assert rec.train_loss == pytest.approx(train_loss, rel=rtol / 10)
            assert rec.val_loss == pytest.approx(val_loss, rel=rtol / 10)
            np.testing.assert_allclose(rec.step_lrs, lrs, rtol=1e-15)
            assert rec.lr == lrs[-1]


MEMBERS = [
    Member("cosine(lr=0.1, steps=3)", seed=1),
    Member("step(lr=0.05, step_size=1, gamma=0.5)", seed=2),
    Member("constant(0.2)", seed=3),
]
ADAM_MEMBERS = [
    Member("cosine(lr=0.01, steps=3)", seed=1),
    Member("exponential(lr=0.003, gamma=0.5)", seed=2),
    Member("constant(0.001)", seed=3),
]


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batched_equals_each_member_alone(mnist, model, optimizer):
    sgd = optimizer == "sgd"
    config = TrainConfig(
        model=model,
        optimizer=optimizer,
        momentum=0.9 if sgd else 0.0,
        weight_decay=1e-3,
        epochs=3,
        batch_size=32,
    )
    trainer = BatchedTrainer(config, mnist, MEMBERS if sgd else ADAM_MEMBERS)
    records = trainer.run()
    assert len(records) == 3 and trainer.epoch == 3
    assert all(isinstance(r, EpochRecord) and not r.diverged for r in records[-1])
    # they really trained, differently
    losses = [r.train_loss for r in records[-1]]
    assert max(losses) < records[0][0].train_loss and len(set(losses)) == 3
    assert_matches_alone(trainer, records, mnist)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_members_sharing_a_seed_share_minibatches_and_equal_alone(mnist, model):
    """Runs of consecutive members with one seed train on one gathered minibatch per step (one
    matmul per seed for the all-linear first layer); each still equals training it alone."""
    members = [
        Member("cosine(lr=0.1, steps=3)", seed=1),
        Member("constant(0.05)", seed=1),
        Member("step(lr=0.05, step_size=1, gamma=0.5)", seed=2),
        Member("constant(0.05)", seed=1),  # seed 1 again, not next to the others: a new group
    ]
    config = TrainConfig(model=model, momentum=0.9, epochs=3, batch_size=32)
    trainer = BatchedTrainer(config, mnist, members)
    assert trainer._group_sizes == (2, 1, 1)
    records = trainer.run()
    assert_matches_alone(trainer, records, mnist)
    # the same schedule and seed in two groups: the same run
    for a, b in zip(trainer.model.member_parameters(1).values(),
                    trainer.model.member_parameters(3).values(), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # a group's members carry one data order; a restore that splits it is refused
    states = [trainer.member_state(i) for i in range(4)]
    assert torch.equal(states[0]["data_rng"], states[1]["data_rng"])
    states[1]["data_rng"] = states[2]["data_rng"]
    with pytest.raises(ValueError, match=r"states\[1\]: data_rng differs from states\[0\]"):
        BatchedTrainer(config, mnist, members, states=states)


def test_step_unit_plateau_and_other_models(mnist):
    members = [
        Member("warmup(cosine(lr=0.1, steps=20), steps=5)", seed=4),
        Member("one_cycle(max_lr=0.2, steps=24)", seed=5),
        Member("plateau(lr=0.1, patience=0, factor=0.5, threshold=0.5)", seed=6),
    ]
    for model in ("mlp2", "vit"):
        config = TrainConfig(model=model, momentum=0.5, epochs=3, batch_size=32, unit="step")
        trainer = BatchedTrainer(config, mnist, members)
        records = trainer.run()
        assert records[-1][2].lr < 0.1, "the plateau member never reduced its rate"
        assert_matches_alone(trainer, records, mnist)


def test_linear_regression_with_mse(linreg):
    config = TrainConfig(
        dataset="linreg", model="linear", loss="mse", optimizer="adam", epochs=3, batch_size=16
    )
    members = [
        Member("constant(0.05)", 0),
        Member("cosine(0.1, 3)", 1),
        Member("constant(0.01)", 2),
    ]
    trainer = BatchedTrainer(config, linreg, members)
    records = trainer.run()
    assert records[-1][0].train_acc is None and records[-1][0].val_acc is None
    assert records[-1][0].val_loss < records[0][0].val_loss
    assert_matches_alone(trainer, records, linreg)


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_from_member_state_continues_exactly(mnist, optimizer):
    config = TrainConfig(
        optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0, epochs=3, batch_size=32
    )
    members = [
        Member("plateau(lr=0.01, patience=0, threshold=0.9)", seed=7),
        Member("cosine(lr=0.01, steps=3)", seed=8),
        Member("linear(0.01, 0.001, 2)", seed=9),
    ]
    whole = BatchedTrainer(config, mnist, members)
    expected = whole.run()

    first = BatchedTrainer(config, mnist, members)
    first.run_epoch()
    states = [_roundtrip(first.member_state(i)) for i in range(3)]
    assert states[0]["policy"]["updates"] == 1 and states[1]["policy"] is None
    resumed = BatchedTrainer(config, mnist, members, states=states)
    assert resumed.epoch == 1
    got = resumed.run()
    assert len(got) == 2
    for e_rec, g_rec in zip(expected[1:], got, strict=True):
        for a, b in zip(e_rec, g_rec, strict=True):
            assert (a.epoch, a.train_loss, a.val_loss, a.lr) == (
                b.epoch,
                b.train_loss,
                b.val_loss,
                b.lr,
            )
            np.testing.assert_array_equal(a.step_lrs, b.step_lrs)
    for i in range(3):
        for key, value in whole.model.member_parameters(i).items():
            assert torch.equal(resumed.model.member_parameters(i)[key], value), key
        assert whole.member_state(i)["policy"] == resumed.member_state(i)["policy"]

    # a member resumed alone (in another group) continues exactly as well
    single = BatchedTrainer(config, mnist, [members[1]], states=[states[1]])
    single.run()
    for key, value in whole.model.member_parameters(1).items():
        torch.testing.assert_close(
            single.model.member_parameters(0)[key], value, rtol=1e-6, atol=1e-7
        )


def test_divergent_member_is_frozen_and_others_unaffected(mnist):
    config = TrainConfig(momentum=0.9, epochs=3, batch_size=32)
    good = [Member("constant(0.05)", 1), Member("cosine(0.1, 3)", 2)]
    bad = Member("constant(1e30)", 3)
    trainer = BatchedTrainer(config, mnist, [good[0], bad, good[1]])
    first = trainer.run_epoch()
    assert first[1].diverged and math.isnan(first[1].train_loss) and math.isnan(first[1].val_acc)
    frozen = trainer.model.member_parameters(1)
    assert all(torch.isfinite(t).all() for t in frozen.values()), "frozen before the NaN step"
    later = trainer.run()
    assert all(epoch[1].diverged for epoch in later)
    assert not any(epoch[0].diverged or epoch[2].diverged for epoch in [first, *later])
    for key, value in trainer.model.member_parameters(1).items():
        assert torch.equal(value, frozen[key]), "a diverged member must not move"
    assert trainer.member_state(1)["diverged"] and trainer.diverged.tolist() == [False, True, False]

    alone = BatchedTrainer(config, mnist, good)
    expected = alone.run()
    for e_rec, g_rec in zip(expected, [first, *later], strict=True):
        assert [r.train_loss for r in e_rec] == [g_rec[0].train_loss, g_rec[2].train_loss]
        assert [r.val_acc for r in e_rec] == [g_rec[0].val_acc, g_rec[2].val_acc]


def test_data_order_is_the_seeded_dataloader_order(mnist):
    config = TrainConfig(epochs=2, batch_size=50)
    trainer = BatchedTrainer(
        config, mnist, [Member("constant(0.1)", 11), Member("constant(0.1)", 12)]
    )
    orders = [trainer._orders() for _ in range(2)]
    for k, seed in enumerate((11, 12)):
        loader = DataLoader(
            TensorDataset(torch.arange(len(mnist.x_train))),
            batch_size=50,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        for epoch in range(2):
            expected = torch.cat([batch for (batch,) in loader])
            assert torch.equal(orders[epoch][k], expected)


def test_global_rng_untouched(mnist):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    BatchedTrainer(TrainConfig(epochs=1), mnist, [Member("constant(0.1)", 5)]).run()
    assert torch.equal(torch.rand(3), expected)


def test_bad_input_names_the_parameter(mnist, linreg):
    config = TrainConfig(epochs=1)
    members = [Member("constant(0.1)", 1)]
    with pytest.raises(ValueError, match="members must be a non-empty sequence"):
        BatchedTrainer(config, mnist, [])
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'; got 'tpu'"):
        BatchedTrainer(config, mnist, members, device="tpu")
    with pytest.raises(ValueError, match="loss must be 'mse' for a regression dataset"):
        BatchedTrainer(dataclasses.replace(config, model="linear"), linreg, members)
    with pytest.raises(ValueError, match="cosine: steps must be"):
        BatchedTrainer(config, mnist, [Member("cosine(lr=0.1, steps=0)", 1)])
    with pytest.raises(ValueError, match="model 'vit' needs an image input_shape"):
        BatchedTrainer(dataclasses.replace(config, model="vit"), linreg_as_classes(linreg), members)
    trainer = BatchedTrainer(config, mnist, members)
    trainer.run_epoch()
    state = trainer.member_state(0)
    with pytest.raises(ValueError, match="states must have one entry per member"):
        BatchedTrainer(config, mnist, members, states=[state, state])
    with pytest.raises(ValueError, match=r"states\[0\]: seed must be 2 \(member 0\); got 1"):
        BatchedTrainer(config, mnist, [Member("constant(0.1)", 2)], states=[state])
    with pytest.raises(ValueError, match="fresh members can join only at epoch 0"):
        BatchedTrainer(config, mnist, [*members, Member("constant(0.1)", 2)], states=[state, None])
    with pytest.raises(ValueError, match="member index must be in"):
        trainer.member_state(1)


def linreg_as_classes(ds):
    y = (ds.y_train > 0).astype(np.int64), (ds.y_val > 0).astype(np.int64)
    return dataclasses.replace(ds, y_train=y[0], y_val=y[1], num_classes=2, task="classification")


@pytest.mark.hardware
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu(mnist, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    config = TrainConfig(model="cnn", optimizer="adam", epochs=2, batch_size=32)
    cpu = BatchedTrainer(config, mnist, ADAM_MEMBERS).run()
    gpu_trainer = BatchedTrainer(config, mnist, ADAM_MEMBERS, device="cuda")
    gpu = gpu_trainer.run()
    for a, b in zip(cpu[-1], gpu[-1], strict=True):
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-3)
    assert_matches_alone(gpu_trainer, gpu, mnist, rtol=1e-3, atol=1e-4)


def test_epoch_rates_of_schedules_and_plateaus():
    policies = make_policies(
        [
            "step(lr=1.0, step_size=2, gamma=0.5)",
            "plateau(lr=0.1, warmup_steps=4, warmup_unit='step')",
            "plateau(lr=0.2, patience=0, factor=0.5)",
        ]
    )
    by_epoch = [epoch_rates(policies, e, 3, "step") for e in range(2)]
    np.testing.assert_allclose(by_epoch[0][:, 0], [1.0, 1.0, 0.5])
    np.testing.assert_allclose(by_epoch[1][:, 0], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(by_epoch[0][:, 1], [0.0, 0.025, 0.05])
    np.testing.assert_allclose(by_epoch[1][:, 1], [0.075, 0.1, 0.1])
    assert (by_epoch[0][:, 2] == 0.2).all()
    observe(policies, np.array([1.0, 1.0, 1.0]), np.array([True, True, True]))
    observe(policies, np.array([1.0, 1.0, 2.0]), np.array([True, True, False]))  # frozen: no update
    assert policies[2].lr == 0.2
    observe(policies, np.array([1.0, 1.0, 2.0]), np.array([True, True, True]))
    assert (epoch_rates(policies, 2, 3, "epoch")[:, 2] == 0.1).all()
    assert (epoch_rates(policies, 2, 3, "epoch")[:, 0] == 0.5).all()  # step(2) = 0.5
