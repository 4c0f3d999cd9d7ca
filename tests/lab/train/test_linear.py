"""The hand-written path of the all-linear stacks (schedlab.lab.train.linear): its gradients are
autograd's (bitwise, or float32 tolerance where it groups or fuses), with momentum accumulated."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from schedlab.lab.train.linear import Layer, Workspace, is_linear_stack, linear_layers
from schedlab.lab.train.losses import MemberCrossEntropy
from schedlab.lab.train.models import StackedModel, build_model

torch.set_num_threads(1)

SHAPES = {
    "mlp": (1, 28, 28),
    "mlp2": (1, 28, 28),
    "cnn": (3, 32, 32),
    "vit": (1, 8, 8),
    "linear": (10,),
}
SEEDS = (0, 7, 2**40)


@pytest.mark.parametrize("name", ["mlp", "mlp2", "linear", "cnn"])
def test_loss_and_grads_are_bitwise_autograd(name):
    """The hand-written backward of the all-linear stacks is autograd's, bit for bit, also when
    its reused buffers change shape (a smaller last batch) and on the call after that."""
    shape, classes = SHAPES[name], 10
    stacked = StackedModel(name, shape, classes, SEEDS)
    gen = torch.Generator().manual_seed(3)

    def loss(out, y):
        flat = F.cross_entropy(out.reshape(-1, classes), y.reshape(-1), reduction="none")
        return flat.view(y.shape).mean(dim=1)

    for batch in (32, 5, 32):
        x = torch.randn(len(SEEDS), batch, *shape, generator=gen)
        y = torch.randint(0, classes, (len(SEEDS), batch), generator=gen)
        out, losses, grads = stacked.loss_and_grads(x, lambda o, y=y: loss(o, y))
        ref_out = stacked.forward(x)
        ref_losses = loss(ref_out, y)
        ref_grads = torch.autograd.grad(ref_losses.sum(), list(stacked.params.values()))
        assert torch.equal(out, ref_out.detach()) and torch.equal(losses, ref_losses.detach())
        assert not losses.requires_grad and len(grads) == len(ref_grads)
        for key, g, ref in zip(stacked.params, grads, ref_grads, strict=True):
            assert g.shape == ref.shape and torch.equal(g, ref), key


@pytest.mark.parametrize("name", ["mlp", "mlp2", "linear", "cnn"])
def test_shared_minibatch_groups_equal_member_wise_inputs(name):
    """Members that share a minibatch (``groups``) get the outputs and gradients of the same
    minibatch handed to each of them (the all-linear first layer then runs one matmul per group,
    whose sums BLAS may round differently from the batched matmul's: float32 tolerance)."""
    shape, classes = SHAPES[name], 10
    seeds, groups = (4, 4, 4, 9, 5, 5), (3, 1, 2)
    stacked = StackedModel(name, shape, classes, seeds)
    gen = torch.Generator().manual_seed(5)
    rows = torch.tensor([0, 0, 0, 1, 2, 2])

    def loss(out, y):
        flat = F.cross_entropy(out.reshape(-1, classes), y.reshape(-1), reduction="none")
        return flat.view(y.shape).mean(dim=1)

    for batch in (16, 3):
        x = torch.randn(len(groups), batch, *shape, generator=gen)
        y = torch.randint(0, classes, (len(groups), batch), generator=gen)[rows]
        got = stacked.loss_and_grads(x, lambda o, y=y: loss(o, y), groups)
        got = (got[0].clone(), got[1].clone(), [g.clone() for g in got[2]])
        ref = stacked.loss_and_grads(x[rows], lambda o, y=y: loss(o, y))
        close = dict(rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got[0], ref[0], **close)
        torch.testing.assert_close(got[1], ref[1], **close)
        for key, g, r in zip(stacked.params, got[2], ref[2], strict=True):
            torch.testing.assert_close(g, r, **close, msg=f"{name} {key}")
    # members with one seed and one minibatch are one model trained twice
    assert torch.equal(got[0][0], got[0][1]) and not torch.equal(got[0][3], got[0][4])


@pytest.mark.parametrize("name", ["mlp", "mlp2", "linear", "cnn"])
@pytest.mark.parametrize("groups", [None, (2, 1)])
def test_accumulate_into_buffers(name, groups):
    """``accumulate=(buffers, beta)`` leaves ``beta * buffers + grad`` in the buffers (inside
    the weight-gradient matmuls for the all-linear models) and returns them as the gradients."""
    shape, classes, seeds = SHAPES[name], 10, (4, 4, 7)
    stacked = StackedModel(name, shape, classes, seeds)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(3 if groups is None else 2, 16, *shape, generator=gen)
    y = torch.randint(0, classes, (3, 16), generator=gen)

    def loss(out):
        flat = F.cross_entropy(out.reshape(-1, classes), y.reshape(-1), reduction="none")
        return flat.view(y.shape).mean(dim=1)

    _, _, plain = stacked.loss_and_grads(x, loss, groups)
    plain = [g.clone() for g in plain]
    start = {k: torch.randn(p.shape, generator=gen) for k, p in stacked.params.items()}
    buffers = {k: t.clone() for k, t in start.items()}
    _, _, grads = stacked.loss_and_grads(x, loss, groups, accumulate=(buffers, 0.9))
    for (key, buf), g, ref in zip(buffers.items(), grads, plain, strict=True):
        assert g is buf, key
        torch.testing.assert_close(buf, 0.9 * start[key] + ref, rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("name", ["mlp", "linear"])
def test_group_view_cache_does_not_grow(name):
    """The grouped first layer caches views of long-lived tensors only: repeated steps (and a
    smaller last batch) add no entries after the first ones."""
    stacked = StackedModel(name, (4,), 3, [0, 0, 1])
    buffers = {k: torch.zeros_like(p) for k, p in stacked.params.items()}
    gen = torch.Generator().manual_seed(1)
    sizes = []
    for batch in (8, 8, 3, 8, 3, 8):
        x = torch.randn(2, batch, 4, generator=gen)
        y = torch.randint(0, 3, (3, batch), generator=gen)
        loss = MemberCrossEntropy(y)
        stacked.loss_and_grads(x, loss, (2, 1), accumulate=(buffers, 0.9))
        sizes.append(len(stacked._path.group_views._cache))
    assert sizes[2:] == [sizes[2]] * 4, sizes


def test_linear_stacks_and_their_layers():
    """Flatten/Linear/ReLU stacks take the hand-written path; each Linear knows its ReLU."""
    for name in ("mlp", "mlp2", "linear"):
        assert is_linear_stack(build_model(name, SHAPES[name], 10)), name
    for name in ("cnn", "vit"):
        assert not is_linear_stack(build_model(name, SHAPES[name], 10)), name
    assert not is_linear_stack(nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    assert not is_linear_stack(nn.Sequential(nn.Flatten()))
    assert linear_layers(build_model("mlp2", (4,), 3)) == (
        Layer(1, relu=True),
        Layer(3, relu=True),
        Layer(5, relu=False),
    )
    assert Layer(3, relu=True).weight == "3.weight" and Layer(3, relu=True).bias == "3.bias"


def test_workspace_reuses_one_buffer_per_key_and_shape():
    space = Workspace(torch.float32, torch.device("cpu"))
    a = space(("dw", 1), (3, 4))
    assert space(("dw", 1), torch.Size([3, 4])) is a and a.dtype == torch.float32
    assert space(("dw", 1), (3, 5)) is not a and space(("db", 1), (3, 4)) is not a
    assert space(("dw", 1), (3, 4)) is a


@pytest.mark.parametrize("groups", [None, (2, 1)])
def test_gradients_live_in_reused_buffers(groups):
    """Without ``accumulate`` the gradients are workspace buffers: the next call overwrites them."""
    stacked = StackedModel("mlp", (4,), 3, [0, 0, 1])
    gen = torch.Generator().manual_seed(4)
    y = torch.randint(0, 3, (3, 8), generator=gen)
    x = torch.randn(3 if groups is None else 2, 8, 4, generator=gen)
    _, _, first = stacked.loss_and_grads(x, MemberCrossEntropy(y), groups)
    kept = [g.clone() for g in first]
    _, _, second = stacked.loss_and_grads(2 * x, MemberCrossEntropy(y), groups)
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(first, second, strict=True))
    assert not torch.equal(kept[0], second[0])
    assert [g.shape for g in second] == [p.shape for p in stacked.params.values()]
