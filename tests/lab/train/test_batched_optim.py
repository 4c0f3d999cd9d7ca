"""The batched SGD/Adam/AdamW step of the stacked engine against K real torch optimizers.

Each member of the batched step has a real ``torch.optim`` twin over its own copy of the member's
parameters, fed the same gradients, rates that differ per member and change at every step, and
the same skipped (diverged) steps; parameters and ``state_dict()``s must agree to float32
tolerance at every step, and a state taken from either side must continue identically on the other.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from schedlab.lab.train import batched_optim
from schedlab.lab.train.config import Member
from schedlab.lab.train.engines import make_trainer
from schedlab.lab.train.loop import _cpu
from schedlab.lab.train.task import UserTask

K, STEPS = 4, 10
TOL = {"rtol": 1e-6, "atol": 1e-7}
SHAPES = {"w": (3, 5), "frozen": (2,), "b": (5,), "s": ()}
TRAINABLE = ["w", "b", "s"]

CASES = [
    (torch.optim.SGD, {}),
    (torch.optim.SGD, {"momentum": 0.9}),
    (torch.optim.SGD, {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    (torch.optim.SGD, {"momentum": 0.8, "dampening": 0.3, "weight_decay": 5e-4}),
    (torch.optim.SGD, {"weight_decay": 1e-3, "foreach": True}),
    (torch.optim.Adam, {}),
    (torch.optim.Adam, {"weight_decay": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6}),
    (torch.optim.AdamW, {}),
    (torch.optim.AdamW, {"weight_decay": 0.1, "betas": (0.5, 0.9), "foreach": False}),
]


def _lr(step: int, i: int) -> float:
    return 0.01 * (1 + i) * (1 + 0.3 * ((step * (i + 2)) % 5))


def _live(step: int) -> list[bool]:
    """Member 2 skips steps 3-5 (as a diverged one would); member 3 starts at step 2."""
    return [True, True, not 3 <= step <= 5, step >= 2]


class Pair:
    """Stacked parameters with K member optimizers over views and a batched step, and K real
    optimizers over independent copies (the reference)."""

    def __init__(self, cls: type, kwargs: dict, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.params = {n: torch.randn(K, *s, generator=g) for n, s in SHAPES.items()}
        self.views = [[p[i] for p in self.params.values()] for i in range(K)]
        for member in self.views:
            for v in member:
                v.requires_grad_(True)
        self.opts = [cls(v, lr=_lr(0, i), **kwargs) for i, v in enumerate(self.views)]
        self.batched = batched_optim.make(self.opts, self.params, self.views, TRAINABLE)
        assert self.batched is not None
        self.refs = [
            [p[i].clone().requires_grad_(n in TRAINABLE) for n, p in self.params.items()]
            for i in range(K)
        ]
        self.ref_opts = [cls(r, lr=_lr(0, i), **kwargs) for i, r in enumerate(self.refs)]
        self.gen = torch.Generator().manual_seed(seed + 1)

    def step(self, t: int, live: list[bool] | None = None, hyper: dict | None = None) -> None:
        live = _live(t) if live is None else live
        for i in range(K):
            for opt in (self.opts[i], self.ref_opts[i]):
                opt.param_groups[0]["lr"] = _lr(t, i)
                opt.param_groups[0].update((hyper or {}).get(i, {}))
        grads = {n: torch.randn(K, *SHAPES[n], generator=self.gen) for n in TRAINABLE}
        assert self.batched.step(grads, live)
        for i in range(K):
            if live[i]:
                for n, r in zip(SHAPES, self.refs[i], strict=True):
                    if n in grads:
                        r.grad = grads[n][i].clone()
                self.ref_opts[i].step()

    def check(self) -> None:
        for i in range(K):
            for n, r in zip(SHAPES, self.refs[i], strict=True):
                torch.testing.assert_close(self.params[n][i], r.detach(), **TOL, msg=n)
            same_state(self.opts[i].state_dict(), self.ref_opts[i].state_dict())


def same_state(got: dict, want: dict) -> None:
    assert got["param_groups"] == want["param_groups"]
    assert sorted(got["state"]) == sorted(want["state"])
    for index, entry in want["state"].items():
        assert sorted(got["state"][index]) == sorted(entry)
        for key, value in entry.items():
            mine = got["state"][index][key]
            assert mine.dtype == value.dtype and mine.device == value.device, key
            assert mine.shape == value.shape, key
            torch.testing.assert_close(mine, value, **TOL, msg=f"{index} {key}")


@pytest.mark.parametrize(("cls", "kwargs"), CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_batched_step_equals_the_real_optimizers(cls, kwargs) -> None:
    pair = Pair(cls, kwargs)
    for t in range(STEPS):
        pair.step(t)
        pair.check()
    if cls is not torch.optim.SGD:  # member 2 skipped 3 steps, member 3 the first two
        assert [float(pair.opts[i].state_dict()["state"][0]["step"]) for i in range(K)] == [
            10.0, 10.0, 7.0, 8.0,
        ]  # fmt: skip
    # the frozen parameter (index 1) has no state and is never touched
    assert all(1 not in o.state_dict()["state"] for o in pair.opts)


@pytest.mark.parametrize(("cls", "kwargs"), [CASES[2], CASES[3], CASES[6], CASES[8]], ids=str)
def test_blocks_of_members_give_the_same_step(cls, kwargs, monkeypatch) -> None:
    """A large parameter is updated over blocks of members (cache-sized): here 1 or 2 at a time,
    with per-member rates and skipped members as above."""
    monkeypatch.setattr(batched_optim, "BLOCK_BYTES", 2 * 15 * 4)
    pair = Pair(cls, kwargs)
    for t in range(STEPS):
        hyper = {i: {"weight_decay": [0, 1e-2, 2e-2, 1e-3][(i + t) % K]} for i in range(K)}
        pair.step(t, hyper=hyper)
        pair.check()


@pytest.mark.parametrize(
    ("cls", "kwargs", "key", "values"),
    [
        (torch.optim.SGD, {"momentum": 0.9}, "momentum", [0.85, 0.9, 0.95, 0.9]),
        (
            torch.optim.SGD,
            {"momentum": 0.9, "weight_decay": 1e-2},
            "weight_decay",
            [0, 1e-2, 2e-2, 0],
        ),
        (torch.optim.AdamW, {}, "betas", [(0.85, 0.99), (0.9, 0.999), (0.95, 0.999), (0.9, 0.9)]),
        (torch.optim.Adam, {"weight_decay": 1e-2}, "weight_decay", [0, 1e-2, 1e-3, 1e-2]),
    ],
)
def test_hyperparameters_that_differ_per_member_and_step(cls, kwargs, key, values) -> None:
    """A scheduler may cycle momentum/betas or schedule weight decay: each member's own."""
    pair = Pair(cls, kwargs)
    for t in range(STEPS):
        hyper = {i: {key: values[(i + t) % K]} for i in range(K)}
        pair.step(t, hyper=hyper)
        pair.check()


@pytest.mark.parametrize(("cls", "kwargs"), [CASES[3], CASES[6], CASES[8]], ids=str)
def test_state_moves_between_the_batched_step_and_the_real_optimizer(cls, kwargs) -> None:
    pair = Pair(cls, kwargs)
    for t in range(4):
        pair.step(t)
    # batched -> real: the checkpoint a member writes loads into the plain optimizer
    i = 2
    alone = [p[i].clone().requires_grad_(n in TRAINABLE) for n, p in pair.params.items()]
    real = cls(alone, lr=1.0, **kwargs)
    real.load_state_dict(_cpu(pair.opts[i].state_dict()))
    # real -> batched: a fresh stacked set restored from the reference optimizers' checkpoints
    other = Pair(cls, kwargs)
    with torch.no_grad():
        for n, p in other.params.items():
            p.copy_(pair.params[n])
    for j in range(K):
        other.opts[j].load_state_dict(_cpu(pair.ref_opts[j].state_dict()))
    other.batched.sync()
    other.refs, other.ref_opts, other.gen = pair.refs, pair.ref_opts, pair.gen
    for t in range(4, 9):
        state = other.gen.get_state()
        other.step(t)
        other.check()
        other.gen.set_state(state)  # the same gradients again for the lone optimizer
        grads = {n: torch.randn(K, *SHAPES[n], generator=other.gen) for n in TRAINABLE}
        real.param_groups[0]["lr"] = _lr(t, i)
        if _live(t)[i]:
            for n, a in zip(SHAPES, alone, strict=True):
                if n in grads:
                    a.grad = grads[n][i].clone()
            real.step()
        for n, a in zip(SHAPES, alone, strict=True):
            torch.testing.assert_close(a.detach(), other.params[n][i], **TOL)
        same_state(other.opts[i].state_dict(), real.state_dict())


def test_a_step_the_batched_path_cannot_take_goes_through_the_optimizers() -> None:
    """Momentum 0 for one member at one step (torch then keeps its buffer as it is): that step
    is the optimizers' own, and the batched step takes their state back after it."""
    pair = Pair(torch.optim.SGD, {"momentum": 0.9})
    live, fell_back = [True] * K, []
    for t in range(6):
        hyper = {1: {"momentum": 0.0}} if t == 3 else {1: {"momentum": 0.9}}
        for i in range(K):
            for opt in (pair.opts[i], pair.ref_opts[i]):
                opt.param_groups[0]["lr"] = _lr(t, i)
                opt.param_groups[0].update(hyper.get(i, {}))
        grads = {n: torch.randn(K, *SHAPES[n], generator=pair.gen) for n in TRAINABLE}
        if not pair.batched.step(grads, live):
            fell_back.append(t)
            for i in range(K):
                for n, v in zip(SHAPES, pair.views[i], strict=True):
                    if n in grads:
                        v.grad = grads[n][i]
                pair.opts[i].step()
            pair.batched.sync()
        for i in range(K):
            for n, r in zip(SHAPES, pair.refs[i], strict=True):
                if n in grads:
                    r.grad = grads[n][i].clone()
            pair.ref_opts[i].step()
        pair.check()
    assert fell_back == [3]


class Sub(torch.optim.SGD):
    pass


def _views(n: int = 2) -> list[list[torch.Tensor]]:
    return [
        [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)] for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda v: torch.optim.SGD(v, lr=0.1, momentum=0.9, nesterov=True), True),
        (lambda v: torch.optim.AdamW(v, lr=0.1, foreach=True), True),
        (lambda v: torch.optim.Adam(v, lr=0.1, amsgrad=True), False),
        (lambda v: torch.optim.AdamW(v, lr=0.1, maximize=True), False),
        (lambda v: torch.optim.SGD(v, lr=0.1, maximize=True), False),
        (lambda v: torch.optim.Adam(v, lr=0.1, capturable=True), False),
        (lambda v: torch.optim.Adam(v, lr=0.1, differentiable=True), False),
        (lambda v: torch.optim.Adam(v, lr=torch.tensor(0.1)), False),
        (lambda v: Sub(v, lr=0.1), False),
        (lambda v: torch.optim.RMSprop(v, lr=0.1), False),
        (lambda v: torch.optim.SGD([{"params": v[:1]}, {"params": v[1:]}], lr=0.1), False),
    ],
)
def test_supports(make, expected) -> None:
    assert batched_optim.supports([make(v) for v in _views()]) is expected


def test_mixed_classes_are_not_batched() -> None:
    a, b = _views()
    assert not batched_optim.supports([torch.optim.Adam(a), torch.optim.AdamW(b)])
    assert not batched_optim.supports(
        [torch.optim.SGD(a, lr=0.1, momentum=0.9), torch.optim.SGD(b, lr=0.1)]
    )


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


@pytest.mark.parametrize(
    ("optimizer", "path"),
    [
        ((torch.optim.SGD, {"momentum": 0.9}), batched_optim.BatchedSGD),
        ((torch.optim.AdamW, {}), batched_optim.BatchedAdam),
        ((torch.optim.Adam, {"amsgrad": True}), None),
        ((torch.optim.SGD, {"maximize": True}), None),
        ((Sub, {}), None),
    ],
)
def test_the_stacked_engine_picks_the_path(optimizer, path) -> None:
    g = torch.Generator().manual_seed(0)
    train = (torch.randn(32, 6, generator=g), torch.randint(0, 3, (32,), generator=g))
    val = (torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g))
    task = UserTask.build(
        Net, train, val, optimizer=optimizer, epochs=1, batch_size=8, engine="stacked", workers=1
    )
    trainer = make_trainer(task, [Member("constant(0.1)", 0), Member("constant(0.05)", 1)])
    if path is None:
        assert trainer.batched is None
    else:
        assert isinstance(trainer.batched, path)
    before = copy.deepcopy(trainer.member_state(0)["model"])
    trainer.run_epoch()
    assert not torch.equal(trainer.member_state(0)["model"]["lin.weight"], before["lin.weight"])
