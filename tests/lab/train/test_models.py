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


@pytest.mark.parametrize("groups", [(2, 2), (1, 1, 1, 1, 1), (3, 3, 1)])
def test_bad_groups_are_refused(groups):
    stacked = StackedModel("mlp", (4,), 2, [0, 0, 1, 1])
    x = torch.zeros(len(groups), 2, 4)
    with pytest.raises(ValueError, match="groups must be positive member counts summing to K=4"):
        stacked.loss_and_grads(
            x, lambda o: o.sum(dim=(1, 2)), groups if groups != (2, 2) else (2, 3)
        )


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


@pytest.mark.parametrize("groups", [None, (2, 1)])
def test_autograd_switch_runs_a_linear_model_through_vmap(groups):
    """``_autograd=True`` (the benchmark's reference) runs the autograd path on an all-linear
    model: the same members, outputs and (momentum-accumulated) gradients as the hand-written
    path, to float32 tolerance."""
    seeds = (3, 3, 8)
    fast = StackedModel("mlp", SHAPES["mlp"], 10, seeds)
    slow = StackedModel("mlp", SHAPES["mlp"], 10, seeds, _autograd=True)
    assert fast.all_linear and not slow.all_linear
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3 if groups is None else 2, 12, *SHAPES["mlp"], generator=gen)
    y = torch.randint(0, 10, (3, 12), generator=gen)
    start = {k: torch.randn(p.shape, generator=gen) for k, p in fast.params.items()}
    results = []
    for stacked in (fast, slow):
        for p, q in zip(stacked.params.values(), fast.params.values(), strict=True):
            assert torch.equal(p, q)
        buffers = {k: t.clone() for k, t in start.items()}
        results.append(stacked.loss_and_grads(x, MemberCrossEntropy(y), groups, (buffers, 0.9)))
    (out, losses, grads), (ref_out, ref_losses, ref_grads) = results
    close = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out, ref_out, **close)
    torch.testing.assert_close(losses, ref_losses, **close)
    for key, g, ref in zip(fast.params, grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref, **close, msg=key)
    with torch.no_grad():
        shared = slow.forward_shared(x[0], feature_major=True)
        torch.testing.assert_close(shared, fast.forward_shared(x[0], feature_major=True), **close)
