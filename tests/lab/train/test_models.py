"""Stacked models: per-member initialisation, forward and gradients equal the single torch.nn model."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from schedlab.lab.train.config import MODELS
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


@pytest.mark.parametrize("name", MODELS)
def test_members_equal_the_single_model_seeded(name):
    shape, classes = SHAPES[name], 10
    stacked = StackedModel(name, shape, classes, SEEDS)
    assert stacked.size == 3
    singles = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        singles.append(build_model(name, shape, classes))
    for k, single in enumerate(singles):
        expected = single.state_dict()
        got = stacked.member_parameters(k)
        assert list(got) == list(expected)
        for key in expected:
            assert torch.equal(got[key], expected[key]), (name, k, key)
    assert stacked.num_parameters() == sum(p.numel() for p in singles[0].parameters())

    # forward on member-wise and on shared inputs, and the gradients of a per-member loss
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, *shape, generator=gen)
    y = torch.randint(0, classes, (3, 5), generator=gen)
    out = stacked.forward(x)
    shared = stacked.forward_shared(x[0])
    assert out.shape == shared.shape == (3, 5, classes)
    losses = F.cross_entropy(out.reshape(15, classes), y.reshape(15), reduction="none").view(3, 5)
    grads = torch.autograd.grad(losses.mean(dim=1).sum(), list(stacked.params.values()))
    for k, single in enumerate(singles):
        torch.testing.assert_close(out[k], single(x[k]), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(shared[k], single(x[0]), rtol=1e-5, atol=1e-6)
        single_grads = torch.autograd.grad(F.cross_entropy(single(x[k]), y[k]), single.parameters())
        for g, expected in zip(grads, single_grads, strict=True):
            torch.testing.assert_close(g[k], expected, rtol=1e-4, atol=1e-6)


def test_mnist_mlp_is_784_128_10():
    model = build_model("mlp", (1, 28, 28), 10)
    assert [tuple(p.shape) for p in model.parameters()] == [(128, 784), (128,), (10, 128), (10,)]
    assert sum(p.numel() for p in model.parameters()) == 101_770
    two = build_model("mlp2", (1, 28, 28), 10)
    assert [tuple(p.shape) for p in two.parameters()][::2] == [(256, 784), (128, 256), (10, 128)]
    assert build_model("linear", (10,), 0)(torch.zeros(4, 10)).shape == (4, 1)


def test_global_rng_is_left_alone():
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    StackedModel("cnn", (1, 8, 8), 10, [1, 2])
    assert torch.equal(torch.rand(2), expected)


def test_bad_models_are_value_errors():
    with pytest.raises(
        ValueError, match="model must be one of mlp, mlp2, cnn, vit, linear; got 'resnet'"
    ):
        build_model("resnet", (1, 28, 28), 10)
    with pytest.raises(
        ValueError, match=r"model 'vit' needs an image input_shape \(C, H, W\); got \(10,\)"
    ):
        build_model("vit", (10,), 2)
    with pytest.raises(ValueError, match="divisible by 4; got input_shape"):
        build_model("vit", (1, 30, 30), 2)
    with pytest.raises(ValueError, match="at least 4x4"):
        build_model("cnn", (1, 2, 2), 2)
    with pytest.raises(ValueError, match="seeds must name at least one member"):
        StackedModel("mlp", (4,), 2, [])
    stacked = StackedModel("mlp", (4,), 2, [1])
    with pytest.raises(ValueError, match="differing keys"):
        stacked.load_member_parameters(0, {"1.weight": torch.zeros(128, 4)})


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


@pytest.mark.parametrize("groups", [(2, 2), (1, 1, 1, 1, 1), (3, 3, 1)])
def test_bad_groups_are_refused(groups):
    stacked = StackedModel("mlp", (4,), 2, [0, 0, 1, 1])
    x = torch.zeros(len(groups), 2, 4)
    with pytest.raises(ValueError, match="groups must be positive member counts summing to K=4"):
        stacked.loss_and_grads(
            x, lambda o: o.sum(dim=(1, 2)), groups if groups != (2, 2) else (2, 3)
        )


def test_fused_cross_entropy_equals_autograd():
    """MemberCrossEntropy.value_and_grad on feature-major logits: autograd's losses and gradient
    to float32 tolerance; a non-finite logit makes that member's loss non-finite only."""
    gen = torch.Generator().manual_seed(11)
    z = torch.randn(4, 10, 33, generator=gen) * 20  # large logits: the max shift matters
    y = torch.randint(0, 10, (4, 33), generator=gen)
    loss = MemberCrossEntropy(y)
    out = z.transpose(1, 2).contiguous().requires_grad_()
    ref = loss(out)
    (ref_grad,) = torch.autograd.grad(ref.sum(), out)
    losses, grad = loss.value_and_grad(z.clone())
    torch.testing.assert_close(losses, ref.detach(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad.transpose(1, 2), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(loss.value(z), ref.detach(), rtol=1e-6, atol=1e-6)
    z[2, 3, 5] = float("inf")
    losses, _ = loss.value_and_grad(z)
    assert torch.isfinite(losses[[0, 1, 3]]).all() and not torch.isfinite(losses[2])


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_forward_shared_feature_major(name):
    """``feature_major=True`` gives the same outputs as (K, outputs, B)."""
    stacked = StackedModel(name, SHAPES[name], 10, SEEDS)
    x = torch.randn(6, *SHAPES[name], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = stacked.forward_shared(x)
        z = stacked.forward_shared(x, feature_major=True)
    assert out.shape == (len(SEEDS), 6, 10) and z.shape == (len(SEEDS), 10, 6)
    assert torch.equal(z.transpose(1, 2), out)


def test_accumulate_buffers_are_checked():
    stacked = StackedModel("mlp", (4,), 2, [0, 1])
    x, loss = torch.zeros(2, 3, 4), (lambda o: o.sum(dim=(1, 2)))
    good = {k: torch.zeros_like(p) for k, p in stacked.params.items()}
    bad = [
        {k: v for k, v in good.items() if k != "1.bias"},
        {**good, "1.weight": torch.zeros(2, 4, 128).transpose(1, 2)},
        {**good, "3.bias": torch.zeros(2, 3)},
    ]
    for buffers in bad:
        with pytest.raises(ValueError, match="accumulate: buffers must map every parameter"):
            stacked.loss_and_grads(x, loss, accumulate=(buffers, 0.9))
    stacked.loss_and_grads(x, loss, accumulate=(good, 0.9))


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
        sizes.append(len(stacked._group_views._cache))
    assert sizes[2:] == [sizes[2]] * 4, sizes
