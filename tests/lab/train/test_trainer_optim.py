"""Batched SGD/Adam with a rate per member equal torch.optim.SGD/Adam run on each member alone."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedlab.lab.train.optim import BatchedAdam, BatchedSGD, make_optimizer

torch.set_num_threads(1)

K = 3
SHAPES = {"w": (4, 5), "b": (5,)}


def _run(
    optimizer: str, hyper: dict, rates: list[list[float]], seed: int, accumulated: bool = False
):
    gen = torch.Generator().manual_seed(seed)
    init = {n: torch.randn(K, *s, generator=gen) for n, s in SHAPES.items()}
    grads = [{n: torch.randn(K, *s, generator=gen) for n, s in SHAPES.items()} for _ in rates]
    stacked = {n: t.clone().requires_grad_() for n, t in init.items()}
    batched = make_optimizer(
        optimizer, stacked, momentum=hyper.get("momentum", 0.0), weight_decay=hyper["weight_decay"]
    )
    active = torch.ones(K, dtype=torch.bool)
    for step, lrs in enumerate(rates):
        lr = torch.tensor(lrs, dtype=torch.float64)
        if accumulated:  # the gradients accumulated into the momentum buffers, as a model does
            buffers, beta = batched.accumulation_target()
            for n in SHAPES:
                buffers[n].mul_(beta).add_(grads[step][n])
            batched.step_accumulated(lr, active)
        else:
            batched.step([grads[step][n] for n in SHAPES], lr, active)
    for k in range(K):
        params = [init[n][k].clone().requires_grad_() for n in SHAPES]
        cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        ref = cls(params, lr=0.0, **hyper)
        for step, lrs in enumerate(rates):
            for p, n in zip(params, SHAPES, strict=True):
                p.grad = grads[step][n][k].clone()
            ref.param_groups[0]["lr"] = lrs[k]
            ref.step()
        for p, n in zip(params, SHAPES, strict=True):
            # A different (batched) order of float32 operations: a few ulps of the largest entry,
            # which matters where an entry cancels to near zero.
            ulps = 8 * torch.finfo(torch.float32).eps * max(1.0, p.detach().abs().max().item())
            torch.testing.assert_close(stacked[n][k].detach(), p.detach(), rtol=1e-6, atol=ulps)
    return batched


rates_st = st.lists(
    st.lists(st.floats(0.0, 1.0, allow_subnormal=False), min_size=K, max_size=K),
    min_size=1,
    max_size=5,
)


@settings(max_examples=30, deadline=None)
@given(
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    weight_decay=st.sampled_from([0.0, 1e-2]),
    rates=rates_st,
    seed=st.integers(0, 2**31),
)
def test_sgd_equals_torch_sgd_per_member(momentum, weight_decay, rates, seed):
    _run("sgd", {"momentum": momentum, "weight_decay": weight_decay}, rates, seed)


@settings(max_examples=30, deadline=None)
@given(momentum=st.sampled_from([0.5, 0.9]), rates=rates_st, seed=st.integers(0, 2**31))
def test_sgd_step_accumulated_equals_torch_sgd(momentum, rates, seed):
    _run("sgd", {"momentum": momentum, "weight_decay": 0.0}, rates, seed, accumulated=True)


def test_accumulation_target_only_for_plain_momentum():
    p = {"p": torch.zeros(K, 2, requires_grad=True)}
    buffers, beta = BatchedSGD(p, momentum=0.9).accumulation_target()
    assert beta == 0.9 and list(buffers) == ["p"] and buffers["p"].shape == (K, 2)
    assert BatchedSGD(p, momentum=0.0).accumulation_target() is None
    assert BatchedSGD(p, momentum=0.9, weight_decay=1e-4).accumulation_target() is None
    assert BatchedAdam(p).accumulation_target() is None


def test_step_accumulated_freezes_inactive_members_and_clears_their_buffers():
    p = torch.randn(K, 4, requires_grad=True)
    before = p.detach().clone()
    opt = BatchedSGD({"p": p}, momentum=0.9)
    buffers, _ = opt.accumulation_target()
    buffers["p"].copy_(torch.randn(K, 4))
    buffers["p"][1] = float("nan")
    opt.step_accumulated(torch.full((K,), 0.1, dtype=torch.float64), torch.tensor([1, 0, 1]) > 0)
    assert torch.equal(p[1].detach(), before[1]) and torch.equal(buffers["p"][1], torch.zeros(4))
    assert not torch.equal(p[0].detach(), before[0]) and torch.isfinite(p).all()


@settings(max_examples=30, deadline=None)
@given(weight_decay=st.sampled_from([0.0, 1e-2]), rates=rates_st, seed=st.integers(0, 2**31))
def test_adam_equals_torch_adam_per_member(weight_decay, rates, seed):
    batched = _run("adam", {"weight_decay": weight_decay}, rates, seed)
    assert batched.member_state(1)["step"] == len(rates)


@pytest.mark.parametrize("cls", [BatchedSGD, BatchedAdam])
def test_inactive_members_do_not_move_even_with_nan_gradients(cls):
    p = torch.randn(K, 4, requires_grad=True)
    before = p.detach().clone()
    opt = cls({"p": p}, weight_decay=0.1)
    grad = torch.randn(K, 4)
    grad[1] = float("nan")
    opt.step([grad], torch.full((K,), 0.1, dtype=torch.float64), torch.tensor([True, False, True]))
    assert torch.equal(p[1].detach(), before[1])
    assert not torch.equal(p[0].detach(), before[0]) and torch.isfinite(p).all()


def test_member_state_round_trip_and_errors():
    p = torch.randn(K, 2, requires_grad=True)
    opt = BatchedAdam({"p": p})
    opt.step(
        [torch.ones(K, 2)],
        torch.full((K,), 0.1, dtype=torch.float64),
        torch.ones(K, dtype=torch.bool),
    )
    state = opt.member_state(2)
    assert state["step"] == 1 and set(state["state"]["p"]) == {"exp_avg", "exp_avg_sq"}
    other = BatchedAdam({"p": torch.zeros(K, 2, requires_grad=True)})
    other.load_member_state(0, state)
    assert torch.equal(other.state["p"]["exp_avg"][0], opt.state["p"]["exp_avg"][2])
    with pytest.raises(ValueError, match="optimizer state must hold"):
        BatchedSGD({"p": p}, momentum=0.9).load_member_state(0, state)
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam; got 'rmsprop'"):
        make_optimizer("rmsprop", {"p": p}, momentum=0.0, weight_decay=0.0)
