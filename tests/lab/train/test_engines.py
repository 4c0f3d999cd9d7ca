"""Every engine for the user's model against the plain PyTorch loop it promises to equal.

The reference is the loop a user writes: ``torch.manual_seed(seed); net = model()``, the optimizer
class with its kwargs, ``ScheduleLR`` driving its rate, ``DataLoader(train, batch_size,
shuffle=True, generator=torch.Generator().manual_seed(seed))``, evaluation in ``eval()`` mode.
The models have Conv, BatchNorm, LayerNorm, Embedding and attention layers.
"""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from schedlab.adapters.torch import PlateauLR, ScheduleLR
from schedlab.errors import ConfigError, DataError
from schedlab.lab.train.config import Member
from schedlab.lab.train.engines import make_trainer
from schedlab.lab.train.loop import first_rate
from schedlab.lab.train.task import UserTask

EPOCHS, BATCH, N, NV = 3, 16, 80, 24


class Mixed(nn.Module):
    """An image branch (Conv, BatchNorm) and a token branch (Embedding, LayerNorm, attention)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.emb = nn.Embedding(16, 8)
        self.ln = nn.LayerNorm(8)
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(4 * 8 * 8 + 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img, tok = x[:, :64].reshape(-1, 1, 8, 8), x[:, 64:].long()
        a = F.relu(self.bn(self.conv(img))).flatten(1)
        e = self.ln(self.emb(tok))
        t, _ = self.att(e, e, e, need_weights=False)
        return self.head(torch.cat([a, t.mean(1)], 1))


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 16, (n, 4), generator=g).float()
    x = torch.cat([torch.randn(n, 64, generator=g), tokens], 1)
    return x, torch.randint(0, 5, (n,), generator=g)


TRAIN, VAL = _data(N, 0), _data(NV, 1)
SGD = (torch.optim.SGD, {"momentum": 0.9, "weight_decay": 1e-4})
ADAMW = (torch.optim.AdamW, {"weight_decay": 0.01})


def _task(optimizer=SGD, unit="epoch", train=TRAIN, **kw) -> UserTask:
    return UserTask.build(
        Mixed, train, VAL, optimizer=optimizer, epochs=EPOCHS, batch_size=BATCH, unit=unit,
        workers=1, **kw,
    )  # fmt: skip


def plain_loop(spec, seed, optimizer=SGD, unit="epoch"):
    """Validation losses per epoch and the final state of the run trained alone."""
    cls, kwargs = optimizer
    torch.manual_seed(seed)
    net = Mixed()
    opt = cls(net.parameters(), lr=first_rate(spec), **kwargs)
    spe = math.ceil(N / BATCH)
    plateau = spec.startswith("plateau")
    sched = (
        PlateauLR(opt, spec) if plateau
        else ScheduleLR(opt, spec, interval="step", unit=unit,
                        steps_per_epoch=spe if unit == "epoch" else None)
    )  # fmt: skip
    loader = DataLoader(
        TensorDataset(*TRAIN), batch_size=BATCH, shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    losses = []
    for _ in range(EPOCHS):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            if not plateau:
                sched.step()
        net.eval()
        with torch.no_grad():
            total = sum(
                float(F.cross_entropy(net(VAL[0][i : i + BATCH]), VAL[1][i : i + BATCH]))
                * len(VAL[1][i : i + BATCH])
                for i in range(0, NV, BATCH)
            )
        losses.append(total / NV)
        if plateau:
            sched.step(losses[-1])
    return losses, net.state_dict()


MEMBERS = [
    Member("cosine(lr=0.05, steps=3)", 0),
    Member("one_cycle(max_lr=0.1, steps=15)", 0),
    Member("plateau(lr=0.05, patience=0, factor=0.5)", 1),
]


#: attention's key bias gets a zero gradient (softmax is shift-invariant): Adam turns its float
#: noise into full-size steps, which change nothing the model computes
NOISE_ONLY = {"att.in_proj_bias"}


def _check(trainer, members, optimizer=SGD, unit="epoch", tol=2e-5) -> None:
    records = [trainer.run_epoch() for _ in range(EPOCHS)]
    for i, m in enumerate(members):
        want, state = plain_loop(m.schedule, m.seed, optimizer, unit)
        got = [epoch[i].val_loss for epoch in records]
        assert got == pytest.approx(want, rel=tol, abs=tol), (trainer.engine, m)
        weights = trainer.member_state(i)["model"]
        skip = NOISE_ONLY if optimizer[0] is not torch.optim.SGD else set()
        for key, value in state.items():
            if key not in skip:
                assert torch.allclose(weights[key].float(), value.float(), rtol=1e-4, atol=1e-5), (
                    key
                )


@pytest.mark.parametrize("engine", ["stacked", "per-run"])
def test_engine_equals_the_plain_loop(engine) -> None:
    task = _task(engine=engine)
    trainer = make_trainer(task, MEMBERS)
    assert trainer.engine.startswith(engine)
    _check(trainer, MEMBERS)


@pytest.mark.parametrize("engine", ["stacked", "per-run"])
def test_any_optimizer_class_and_step_unit(engine) -> None:
    members = [Member("linear(0.01, 0.001, 15)", 0), Member("warmup(cosine(0.01, 10), 5)", 2)]
    trainer = make_trainer(_task(optimizer=ADAMW, unit="step", engine=engine), members)
    _check(trainer, members, optimizer=ADAMW, unit="step")


def test_resume_across_engines_equals_uninterrupted() -> None:
    """Two epochs stacked, a checkpoint through torch.save, the last epoch per-run."""
    stacked = make_trainer(_task(engine="stacked"), MEMBERS[:2])
    for _ in range(EPOCHS - 1):
        stacked.run_epoch()
    states = []
    for i in range(2):
        buf = io.BytesIO()
        torch.save(stacked.member_state(i), buf)
        states.append(torch.load(io.BytesIO(buf.getvalue()), weights_only=False))
    resumed = make_trainer(_task(engine="per-run"), MEMBERS[:2], states=states)
    assert resumed.epoch == EPOCHS - 1
    last = resumed.run_epoch()
    for i, m in enumerate(MEMBERS[:2]):
        want, _ = plain_loop(m.schedule, m.seed)
        assert last[i].val_loss == pytest.approx(want[-1], rel=2e-5, abs=2e-5)


def test_per_run_worker_processes_equal_in_process() -> None:
    members = MEMBERS[:2]
    task = dataclasses.replace(_task(engine="per-run"), workers=2)
    trainer = make_trainer(task, members)
    try:
        assert "2 worker processes" in trainer.engine
        _check(trainer, members)
    finally:
        trainer.close()


def test_diverged_member_stops_and_others_go_on() -> None:
    members = [Member("constant(1e6)", 0), Member("constant(0.05)", 0)]
    trainer = make_trainer(_task(optimizer=(torch.optim.SGD, {}), engine="stacked"), members)
    first = trainer.run_epoch()
    assert first[0].diverged and math.isnan(first[0].val_loss)
    assert not first[1].diverged and math.isfinite(first[1].val_loss)
    frozen = trainer.member_state(0)["model"]
    trainer.run_epoch()
    after = trainer.member_state(0)["model"]
    for key in frozen:  # the weights of its last finite step (maybe inf): NaN-equal
        torch.testing.assert_close(after[key], frozen[key], rtol=0, atol=0, equal_nan=True)


class Augmented(Dataset):
    """A dataset with a random transform: it cannot be read into memory once."""

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int):
        x, y = TRAIN[0][i], TRAIN[1][i]
        return x + 0.01 * torch.randn(x.shape), y


class NoVmap(Mixed):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum().item() > 1e9:  # data-dependent control flow: .item() does not run under vmap
            return x
        return super().forward(x)


def test_auto_falls_back_with_the_reason() -> None:
    with pytest.warns(UserWarning, match="random transforms"):
        aug = make_trainer(_task(train=Augmented()), MEMBERS[:2])
    assert aug.engine.startswith("per-run") and "random transforms" in aug.engine
    task = UserTask.build(NoVmap, TRAIN, VAL, optimizer=SGD, epochs=1, batch_size=BATCH, workers=1)
    with pytest.warns(UserWarning, match="torch.func.vmap"):
        plain = make_trainer(task, MEMBERS[:2])
    assert "does not run under torch.func.vmap" in plain.engine
    with pytest.raises(ConfigError, match="engine 'stacked' cannot train this model"):
        make_trainer(dataclasses.replace(task, engine="stacked"), MEMBERS[:2])


@pytest.mark.parametrize(
    ("stacked_s", "alone_s", "chosen"), [(0.3, 0.1, "stacked"), (0.5, 0.1, "per-run")]
)
def test_auto_on_the_cpu_takes_the_engine_timed_faster(
    monkeypatch, stacked_s, alone_s, chosen
) -> None:
    """Four runs: stacked wins when one stacked epoch takes at most 4 plain ones.  The timings
    are set (a test asserts no speed); what is timed is each engine's own epoch."""
    from schedlab.lab.train import engines
    from schedlab.lab.train.single import SingleRun
    from schedlab.lab.train.stacked import StackedTrainer

    timed: list[type] = []

    def seconds(epoch) -> float:
        owner = type(epoch.__self__)
        timed.append(owner)
        epoch()  # the real epoch runs, on the first samples only
        assert len(epoch.__self__.task.train) == engines.CALIBRATION_STEPS * BATCH
        return {StackedTrainer: stacked_s, SingleRun: alone_s}[owner]

    monkeypatch.setattr(engines, "_epoch_seconds", seconds)
    task = dataclasses.replace(_task(), workers=None)
    members = MEMBERS[:2] + [Member(m.schedule, m.seed + 10) for m in MEMBERS[:2]]
    if chosen == "stacked":
        trainer = make_trainer(task, members)
        assert trainer.engine.startswith("stacked")
    else:
        with pytest.warns(UserWarning, match="stacking measured slower on this CPU"):
            trainer = make_trainer(task, members)
        assert trainer.engine == (
            "per-run (stacking measured slower on this CPU: 2 steps of the 4 runs stacked took "
            "500 ms, of the plain loop 4 x 100 ms)"
        )  # in this process (no worker processes): the plain loop as it was timed
        assert trainer.workers == 1
    assert timed == [StackedTrainer, SingleRun]
    # the choice trains the real runs from the start, as if no timing had happened
    _check(trainer, members)


def test_auto_times_nothing_when_told_the_engine(monkeypatch) -> None:
    from schedlab.lab.train import engines

    monkeypatch.setattr(engines, "_epoch_seconds", lambda epoch: pytest.fail("timed"))
    assert make_trainer(_task(engine="stacked"), MEMBERS[:2]).engine.startswith("stacked")
    assert make_trainer(_task(engine="per-run"), MEMBERS[:2]).engine.startswith("per-run")


def test_dropout_draws_independently_per_run() -> None:
    class Drop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.drop = nn.Linear(68, 5), nn.Dropout(0.5)

        def forward(self, x):
            return self.fc(self.drop(x))

    task = UserTask.build(Drop, TRAIN, VAL, epochs=1, batch_size=BATCH, workers=1, engine="stacked")
    same = [Member("constant(0.1)", 0), Member("constant(0.1)", 0)]
    trainer = make_trainer(task, same)
    assert "independently" in trainer.engine
    trainer.run_epoch()
    a, b = (trainer.member_state(i)["model"]["fc.weight"] for i in range(2))
    assert not torch.equal(a, b)  # same seed, same data order: only dropout tells them apart


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": Mixed()}, ConfigError, "zero-argument factory"),
        ({"model": lambda: 3}, ConfigError, "must return a torch.nn.Module; got int"),
        (
            {"train": (torch.randn(32, 10), torch.zeros(32).long())},
            DataError,
            r"samples of shape \(10,\)",
        ),
        ({"loss": lambda out, y: out.sum(1)}, ConfigError, "must return a scalar tensor"),
        ({"loss": lambda out, y: out.sum() * math.inf}, ConfigError, "not finite"),
        ({"optimizer": int}, ConfigError, "optimizer"),
        ({"optimizer": (torch.optim.SGD, {"lr": 0.1})}, ConfigError, "'lr' is set by each run"),
        ({"batch_size": 1000}, ConfigError, "larger than the training set"),
        ({"metrics": {"acc": lambda o, y: 0.0}}, ConfigError, "computed already"),
        ({"engine": "fast"}, ConfigError, "engine must be one of"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(kwargs, error, match) -> None:
    args = {"model": Mixed, "train": TRAIN, "val": VAL, "epochs": 1, "batch_size": BATCH, **kwargs}
    with pytest.raises(error, match=match):
        UserTask.build(args.pop("model"), args.pop("train"), args.pop("val"), **args)


def test_fingerprint_changes_with_model_data_and_optimizer() -> None:
    base = _task().config_hash()
    assert _task().config_hash() == base
    assert _task(optimizer=ADAMW).config_hash() != base
    x, y = TRAIN
    assert _task(train=(x + 1e-3, y)).config_hash() != base

    class Wider(Mixed):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4 * 8 * 8 + 8, 6)

    wide = UserTask.build(Wider, TRAIN, VAL, optimizer=SGD, epochs=EPOCHS, batch_size=BATCH)
    assert wide.config_hash() != base


class TiedLM(nn.Module):
    """A language model whose output layer reuses the embedding matrix (GPT-2 does)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(16, 8)
        self.ln = nn.LayerNorm(8)
        self.out = nn.Linear(8, 16, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(self.emb(x)))  # (B, T, 16)


class Frozen(nn.Module):
    """A frozen first layer (requires_grad=False): only the head trains."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = nn.Linear(68, 16), nn.Linear(16, 5)
        self.body.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


def _lm_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.flatten(0, 1), y.flatten())


def _tokens(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(0, 16, (n, 7), generator=torch.Generator().manual_seed(seed))
    return ids[:, :-1], ids[:, 1:]


def _alone(factory, train, val, loss, spec, seed, optimizer):
    """The final validation loss and state of one run in the plain loop (any model)."""
    cls, kwargs = optimizer
    torch.manual_seed(seed)
    net = factory()
    opt = cls(net.parameters(), lr=first_rate(spec), **kwargs)
    loader = DataLoader(TensorDataset(*train), batch_size=BATCH, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))  # fmt: skip
    sched = ScheduleLR(opt, spec, interval="step", unit="epoch", steps_per_epoch=len(loader))
    for _ in range(EPOCHS):
        for x, y in loader:
            opt.zero_grad()
            loss(net(x), y).backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return float(loss(net(val[0]), val[1])), net.state_dict()


@pytest.mark.parametrize(
    ("factory", "data", "loss"),
    [(TiedLM, (_tokens(N, 0), _tokens(NV, 1)), _lm_loss), (Frozen, (TRAIN, VAL), F.cross_entropy)],
    ids=["tied-weights", "frozen-parameters"],
)
def test_stacked_keeps_tied_and_frozen_parameters_as_alone(factory, data, loss) -> None:
    """A tied weight is one parameter under two names (trained once, in every checkpoint under
    both); a parameter with requires_grad=False is not trained, weight decay included."""
    train, val = data
    members = [Member("cosine(lr=0.05, steps=3)", 0), Member("constant(0.02)", 1)]
    task = UserTask.build(factory, train, val, loss=loss, optimizer=SGD, epochs=EPOCHS,
                          batch_size=BATCH, engine="stacked")  # fmt: skip
    trainer = make_trainer(task, members)
    for _ in range(EPOCHS):
        last = trainer.run_epoch()
    for i, m in enumerate(members):
        want_loss, want = _alone(factory, train, val, loss, m.schedule, m.seed, SGD)
        assert last[i].val_loss == pytest.approx(want_loss, rel=2e-5)
        got = trainer.member_state(i)["model"]
        assert sorted(got) == sorted(want)
        for key, value in want.items():
            torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-5, msg=key)
    resumed = make_trainer(dataclasses.replace(task, engine="per-run", workers=1), members,
                           states=[trainer.member_state(i) for i in range(2)])  # fmt: skip
    assert resumed.epoch == EPOCHS
