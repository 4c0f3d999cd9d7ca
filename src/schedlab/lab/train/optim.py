"""Batched SGD and Adam over stacked parameters, with a rate per member at every step.

Each parameter tensor has a leading member dimension K.  ``step(grads, lr, active)`` applies, to
every member k at once, exactly the update ``torch.optim.SGD`` / ``torch.optim.Adam`` (single-tensor
path, ``maximize=False``, ``dampening=0``, ``nesterov=False``, ``amsgrad=False``) would apply to
member k alone with learning rate ``lr[k]``:

- SGD: ``g = grad + weight_decay * p``; with momentum ``buf = momentum * buf + g`` and ``g = buf``;
  ``p = p - lr * g``.
- Adam (betas 0.9, 0.999, eps 1e-8): ``g = grad + weight_decay * p``; ``m = lerp(m, g, 1 - beta1)``;
  ``v = beta2 * v + (1 - beta2) * g * g``; ``p = p - lr / (1 - beta1**t) * m / (sqrt(v) /
  sqrt(1 - beta2**t) + eps)`` with ``t`` the 1-based step count.

Members with ``active[k] == False`` (diverged) see a zero gradient and a zero rate: their weights
stay exactly as they are.  Rates arrive as float64 and are rounded to float32 after the float64
arithmetic, as torch does with a Python-float ``lr``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from schedlab.errors import ConfigError


def _member_view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a (K,) vector to broadcast over a (K, ...) parameter."""
    return v.view(v.shape[0], *([1] * (like.dim() - 1)))


def _masked(v: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
    return v if active is None else torch.where(active, v, 0.0)


class _BatchedOptimizer:
    """Shared bookkeeping: named stacked parameters, named per-parameter state, the step count."""

    state_names: tuple[str, ...] = ()

    def __init__(self, params: Mapping[str, torch.Tensor], weight_decay: float) -> None:
        self.names = tuple(params)
        self.params = tuple(params.values())
        self.weight_decay = float(weight_decay)
        self.steps = 0
        self.state: dict[str, dict[str, torch.Tensor]] = {
            name: {key: torch.zeros_like(p) for key in self.state_names}
            for name, p in params.items()
        }

    def _grads(
        self, grads: Sequence[torch.Tensor], active: torch.Tensor | None
    ) -> list[torch.Tensor]:
        out = []
        for p, g in zip(self.params, grads, strict=True):
            if active is not None:
                g = torch.where(_member_view(active, g), g, 0.0)
            if self.weight_decay:
                g = g.add(p.detach(), alpha=self.weight_decay)
            out.append(g)
        return out

    def accumulation_target(self) -> tuple[dict[str, torch.Tensor], float] | None:
        """Buffers a model may accumulate its gradients into; ``None``: use :meth:`step`."""
        return None

    def member_state(self, i: int) -> dict:
        """Member ``i``'s optimizer state: ``{"step": int, "state": {param: {name: tensor}}}`` (CPU)."""
        return {
            "step": self.steps,
            "state": {
                name: {key: t[i].detach().cpu().clone() for key, t in slots.items()}
                for name, slots in self.state.items()
            },
        }

    def load_member_state(self, i: int, state: Mapping) -> None:
        """Restore member ``i`` from :meth:`member_state`; the step count is shared by all members."""
        saved = state.get("state", {}) if isinstance(state, Mapping) else {}
        if sorted(saved) != sorted(self.state) or any(
            sorted(saved[n]) != sorted(self.state[n]) for n in self.state
        ):
            raise ConfigError(
                f"{type(self).__name__}: optimizer state must hold {list(self.state_names)} for "
                f"parameters {list(self.names)}; got {state!r:.200}"
            )
        self.steps = int(state["step"])
        with torch.no_grad():
            for name, slots in self.state.items():
                for key, t in slots.items():
                    t[i].copy_(saved[name][key])


class BatchedSGD(_BatchedOptimizer):
    """``torch.optim.SGD(lr, momentum, weight_decay)`` for K members with a rate per member."""

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        *,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.state_names = ("momentum_buffer",) if momentum else ()
        super().__init__(params, weight_decay)
        self.momentum = float(momentum)

    @torch.no_grad()
    def step(
        self, grads: Sequence[torch.Tensor], lr: torch.Tensor, active: torch.Tensor | None = None
    ) -> None:
        """One update; ``lr`` float64 (K,), ``active`` bool (K,) or ``None`` (all), on the device."""
        neg_lr = _masked(-lr, active).to(self.params[0].dtype)
        for name, p, g in zip(self.names, self.params, self._grads(grads, active), strict=True):
            if self.momentum:
                # a zero buffer gives buf = g at the first step, as torch's clone(grad) does
                buf = self.state[name]["momentum_buffer"]
                g = torch.add(g, buf, alpha=self.momentum, out=buf)  # one pass over memory
            p.addcmul_(_member_view(neg_lr, p), g)
        self.steps += 1

    def accumulation_target(self) -> tuple[dict[str, torch.Tensor], float] | None:
        """``(momentum buffers by parameter name, momentum)`` for a model that accumulates its
        gradients straight into them (``StackedModel.loss_and_grads(accumulate=...)``), followed
        by :meth:`step_accumulated`; ``None`` without momentum or with weight decay (then use
        :meth:`step`)."""
        if not self.momentum or self.weight_decay:
            return None
        return {name: slots["momentum_buffer"] for name, slots in self.state.items()}, self.momentum

    @torch.no_grad()
    def step_accumulated(self, lr: torch.Tensor, active: torch.Tensor | None = None) -> None:
        """The update ``p = p - lr * buf`` once the gradients are in the momentum buffers
        (``buf = momentum * buf + grad``, see :meth:`accumulation_target`).

        Members with ``active[k] == False`` keep their weights exactly; their buffers, which hold
        the gradient of a non-finite loss, are zeroed.
        """
        neg_lr = _masked(-lr, active).to(self.params[0].dtype)
        for name, p in zip(self.names, self.params, strict=True):
            buf = self.state[name]["momentum_buffer"]
            if active is not None:
                buf.masked_fill_(~_member_view(active, buf), 0.0)
            p.addcmul_(_member_view(neg_lr, p), buf)
        self.steps += 1


class BatchedAdam(_BatchedOptimizer):
    """``torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay)`` for K members."""

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        *,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, weight_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)

    @torch.no_grad()
    def step(
        self, grads: Sequence[torch.Tensor], lr: torch.Tensor, active: torch.Tensor | None = None
    ) -> None:
        """One update; ``lr`` float64 (K,), ``active`` bool (K,) or ``None`` (all), on the device."""
        self.steps += 1
        bias1 = 1 - self.beta1**self.steps
        bias2_sqrt = math.sqrt(1 - self.beta2**self.steps)
        neg_step = _masked(-(lr / bias1), active).to(self.params[0].dtype)
        for name, p, g in zip(self.names, self.params, self._grads(grads, active), strict=True):
            m, v = self.state[name]["exp_avg"], self.state[name]["exp_avg_sq"]
            m.lerp_(g, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = (v.sqrt() / bias2_sqrt).add_(self.eps)
            # (value * m) / denom, the evaluation order of torch's addcdiv_ kernel
            p.add_(torch.mul(m, _member_view(neg_step, p)).div_(denom))


def make_optimizer(
    name: str, params: Mapping[str, torch.Tensor], *, momentum: float, weight_decay: float
) -> BatchedSGD | BatchedAdam:
    """The batched optimizer ``name`` (``sgd`` or ``adam``) over stacked ``params``."""
    if name == "sgd":
        return BatchedSGD(params, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return BatchedAdam(params, weight_decay=weight_decay)
    raise ConfigError(f"optimizer must be one of sgd, adam; got {name!r}")
