"""Per-member losses: the fused cross-entropy on feature-major logits equals autograd's."""

from __future__ import annotations

import torch

from schedlab.lab.train.losses import MemberCrossEntropy


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
