"""Per-member training losses of K stacked models, and a fused cross-entropy for feature-major logits.

A loss object is called with the stacked outputs ``out`` of shape ``(K, B, outputs)`` and returns the
per-member mean loss ``(K,)`` (autograd can differentiate it).  :class:`MemberCrossEntropy` also offers
``value_and_grad(z)`` on feature-major logits ``z`` ``(K, classes, B)``: the losses and the gradient
of their sum, ``(softmax(z) - onehot(y)) / B``, from one ``log_softmax`` over the class dimension,
without the transposed copy of the logits that autograd's ``cross_entropy`` needs (the hand-written
backward of the all-linear models uses it: :mod:`schedlab.lab.train.linear`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


class MemberCrossEntropy:
    """Mean cross-entropy per member against integer targets ``y`` ``(K, B)``."""

    def __init__(self, y: torch.Tensor) -> None:
        self.y = y

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        k, b = self.y.shape
        flat = F.cross_entropy(out.reshape(k * b, -1), self.y.reshape(k * b), reduction="none")
        return flat.view(k, b).mean(dim=1)

    def value(self, z: torch.Tensor) -> torch.Tensor:
        """The losses ``(K,)`` for feature-major logits ``z`` ``(K, classes, B)`` (no gradient):
        ``-mean_b log_softmax(z)[:, y, b]``."""
        return self._log_softmax_and_losses(z)[1]

    def _log_softmax_and_losses(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logp = torch.log_softmax(z, dim=1)  # over the classes
        return logp, logp.gather(1, self.y.unsqueeze(1)).mean(dim=(1, 2)).neg_()

    def value_and_grad(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(losses (K,), d sum(losses) / dz (K, classes, B))`` for feature-major logits ``z``.

        ``loss = -mean_b log_softmax(z)[:, y, b]`` (``log_softmax`` over the class dimension, which
        subtracts the maximum before ``exp``) and ``grad = (exp(log_softmax(z)) - onehot(y)) / B``;
        a non-finite logit gives a non-finite loss.
        """
        k, b = self.y.shape
        logp, losses = self._log_softmax_and_losses(z)
        grad = logp.exp_()
        minus_one = torch.full((k, 1, b), -1.0, dtype=z.dtype, device=z.device)
        grad.scatter_add_(1, self.y.unsqueeze(1), minus_one)
        return losses, grad.div_(b)


class MemberMSE:
    """Mean squared error per member of single outputs ``(K, B, 1)`` against targets ``y`` ``(K, B)``."""

    def __init__(self, y: torch.Tensor) -> None:
        self.y = y

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        return (out.squeeze(-1) - self.y).square().mean(dim=1)


def member_loss(y: torch.Tensor, classification: bool) -> MemberCrossEntropy | MemberMSE:
    """The loss object of a classification (cross-entropy) or regression (MSE) task."""
    return MemberCrossEntropy(y) if classification else MemberMSE(y)
