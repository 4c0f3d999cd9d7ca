"""One batched ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` step for the K members of a stacked model.

The stacked engine keeps one optimizer per member over *views* of its slice of the stacked
``(K, ...)`` parameters (for the rates its scheduler writes and for its checkpoint).  Stepping them
one by one costs K small calls per parameter; for exactly these three classes with plain options
(:func:`supports`) one update per parameter name over the stacked tensors does the same, member
``k`` with the hyperparameters its optimizer's ``param_groups[0]`` holds at that step (rate,
momentum or betas, weight decay: a scheduler may write any of them), following torch's
single-tensor formulas in the same order of operations:

- SGD: ``d = g + wd * p``; with momentum ``buf = clone(d)`` at the member's first step, else
  ``buf = buf * momentum + (1 - dampening) * d``, then ``d = d + momentum * buf`` (nesterov) or
  ``d = buf``; ``p = p - lr * d``.
- Adam / AdamW: ``t += 1``; Adam ``g = g + wd * p``, AdamW ``p = p * (1 - lr * wd)``;
  ``m = lerp(m, g, 1 - beta1)``; ``v = v * beta2 + (1 - beta2) * g * g``;
  ``p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.

A hyperparameter equal across the members is passed as a Python number (torch's own call); one
that differs is a float tensor of shape ``(K, 1, ...)``.  Members that are not live (diverged) are
left out by indexing, so their parameters, state and step counts stay exactly as they are.  A
large parameter is updated a block of members at a time (:data:`BLOCK_BYTES` per tensor), so
that the several passes of an update stay in the cache as they do for one member alone.  The
state lives in stacked tensors, and each member optimizer's ``state[view]`` holds views into them
(from the member's first step on, as torch creates it), so ``optimizer.state_dict()`` is torch's
own format and a checkpoint resumes in the plain loop; :meth:`BatchedOptimizer.sync` takes the
state back from the optimizers after ``load_state_dict`` (or a step they took themselves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

Coef = float | torch.Tensor

#: an update runs over blocks of members of about this many bytes per tensor (cache-sized)
BLOCK_BYTES = 1 << 20


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _plain_group(cls: type, group: Mapping[str, Any]) -> bool:
    """Whether ``group`` has only the options the batched step implements."""
    if group.get("fused") or group.get("differentiable") or group.get("maximize"):
        return False
    if not _number(group.get("lr")) or not _number(group.get("weight_decay")):
        return False
    if cls is torch.optim.SGD:
        return all(_number(group.get(key)) for key in ("momentum", "dampening")) and isinstance(
            group.get("nesterov"), bool
        )
    betas = group.get("betas")
    return (
        not group.get("amsgrad")
        and not group.get("capturable")
        and isinstance(betas, tuple | list)
        and len(betas) == 2
        and all(_number(b) for b in betas)
        and _number(group.get("eps"))
    )


def supports(optimizers: Sequence[torch.optim.Optimizer]) -> bool:
    """Whether the batched step applies: every optimizer exactly ``torch.optim.SGD``, ``Adam`` or
    ``AdamW`` (not a subclass), the same class for all, one parameter group of real floating
    parameters, plain options (no ``maximize``, ``amsgrad``, ``capturable``, ``differentiable``,
    ``fused``; Python-number hyperparameters; ``foreach`` is free: the math is the same)."""
    if not optimizers:
        return False
    cls = type(optimizers[0])
    if cls not in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
        return False
    for opt in optimizers:
        if type(opt) is not cls or len(opt.param_groups) != 1:
            return False
        group = opt.param_groups[0]
        if not _plain_group(cls, group):
            return False
        if any(not p.is_floating_point() or p.is_complex() for p in group["params"]):
            return False
    if cls is torch.optim.SGD:
        first = optimizers[0].param_groups[0]
        return all(
            o.param_groups[0]["nesterov"] == first["nesterov"]
            and (o.param_groups[0]["momentum"] != 0) == (first["momentum"] != 0)
            for o in optimizers
        )
    return True


def make(
    optimizers: Sequence[torch.optim.Optimizer],
    params: Mapping[str, torch.Tensor],
    views: Sequence[Sequence[torch.Tensor]],
    trainable: Sequence[str],
) -> BatchedOptimizer | None:
    """The batched step for ``optimizers`` (:class:`BatchedSGD` or :class:`BatchedAdam`), or
    ``None`` where :func:`supports` says no (the caller steps each optimizer itself)."""
    if not supports(optimizers):
        return None
    cls = BatchedSGD if type(optimizers[0]) is torch.optim.SGD else BatchedAdam
    return cls(optimizers, params, views, trainable)


class _Coefs:
    """Per-member hyperparameters of one step: a Python float where all members (of the block
    :attr:`window`) agree, else a tensor shaped ``(K, 1, ...)`` to broadcast over a stacked
    parameter (built once per dtype)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._values: dict[str, float | list[float]] = {}
        self._tensors: dict[tuple[str, torch.dtype], torch.Tensor] = {}
        #: the block of members an update works on (``None``: all of them)
        self.window: slice | None = None

    def set(self, key: str, values: Sequence[float]) -> None:
        first = values[0]
        self._values[key] = float(first) if all(v == first for v in values) else list(values)

    def scalar(self, key: str) -> float | None:
        """The common value, or ``None`` where the members differ."""
        value = self._values[key]
        return value if isinstance(value, float) else None

    def get(self, key: str, like: torch.Tensor) -> Coef:
        value = self._values[key]
        if isinstance(value, float):
            return value
        if self.window is not None:
            block = value[self.window]
            if all(v == block[0] for v in block):  # one member, or members that agree
                return float(block[0])
        tensor = self._tensors.get((key, like.dtype))
        if tensor is None:
            tensor = torch.tensor(value, dtype=like.dtype).to(self.device)
            self._tensors[key, like.dtype] = tensor
        if self.window is not None:
            tensor = tensor[self.window]
        return tensor.view(-1, *([1] * (like.dim() - 1)))


def _axpy(a: torch.Tensor, b: torch.Tensor, c: Coef) -> torch.Tensor:
    """``a + c * b`` (a new tensor)."""
    return torch.add(a, b, alpha=c) if isinstance(c, float) else torch.addcmul(a, b, c)


def _axpy_(a: torch.Tensor, b: torch.Tensor, c: Coef) -> torch.Tensor:
    """``a += c * b`` in place."""
    return a.add_(b, alpha=c) if isinstance(c, float) else a.addcmul_(b, c)


class BatchedOptimizer:
    """Shared part: the stacked state, the views the member optimizers hold, the live subsets."""

    #: the per-parameter state keys torch keeps, in its order
    state_keys: tuple[str, ...] = ()

    def __init__(
        self,
        optimizers: Sequence[torch.optim.Optimizer],
        params: Mapping[str, torch.Tensor],
        views: Sequence[Sequence[torch.Tensor]],
        trainable: Sequence[str],
    ) -> None:
        self.optimizers = list(optimizers)
        self.k = len(self.optimizers)
        names = list(params)
        wanted = set(trainable)
        #: the parameters that get gradients (frozen ones get no update and no state)
        self.names = [n for n in names if n in wanted]
        self.params = {n: params[n] for n in self.names}
        #: ``views[name][i]``: member i's view of the parameter, a key of its optimizer's state
        self.views = {n: [views[i][names.index(n)] for i in range(self.k)] for n in self.names}
        self.device = next(iter(self.params.values())).device if self.params else None
        self.state = {
            n: {key: torch.zeros_like(p) for key in self.state_keys if key != "step"}
            for n, p in self.params.items()
        }
        #: whether member i has taken a step (has state), as torch's lazy initialisation
        self.started = [False] * self.k
        self.sync()

    # -- the member optimizers' state ----------------------------------------------------------
    def _member_state(self, name: str, i: int) -> dict[str, torch.Tensor]:
        return {key: self.state[name][key][i] for key in self.state_keys}

    def _publish(self, i: int) -> None:
        """Point member i's optimizer state at its slices of the stacked state (SGD without
        momentum keeps none)."""
        if not self.state_keys:
            return
        state = self.optimizers[i].state
        for name in self.names:
            state[self.views[name][i]] = self._member_state(name, i)

    @torch.no_grad()
    def sync(self) -> None:
        """Take the state the member optimizers hold (after ``load_state_dict``, or a step they
        took themselves) into the stacked tensors and point them at their slices again."""
        for i, opt in enumerate(self.optimizers):
            held = [opt.state.get(self.views[n][i]) or {} for n in self.names]
            self.started[i] = bool(self.names) and all(
                all(s.get(key) is not None for key in self.state_keys) for s in held
            )
            for j, (name, s) in enumerate(zip(self.names, held, strict=True)):
                self._take(j, name, i, s if self.started[i] else None)
            for name in self.names:
                opt.state.pop(self.views[name][i], None)
            if self.started[i]:
                self._publish(i)

    def _take(self, j: int, name: str, i: int, held: Mapping[str, Any] | None) -> None:
        """Copy member ``i``'s state of parameter ``name`` (the ``j``-th) from ``held`` into the
        stacked tensors; zero it where the member has not started (``held`` is ``None``)."""
        for key, stacked in self.state[name].items():
            if held is None:
                stacked[i].zero_()
            else:
                stacked[i].copy_(held[key])

    # -- the step ------------------------------------------------------------------------------
    def step(self, grads: Mapping[str, torch.Tensor], live: Sequence[bool]) -> bool:
        """One step of every live member with ``grads[name]`` ``(K, ...)``; ``False`` (nothing
        done) where the members' options changed so that this step cannot be batched (the
        caller then steps each optimizer and calls :meth:`sync`)."""
        members = [i for i in range(self.k) if live[i]]
        if not members or not self.names:
            return True
        groups = [self.optimizers[i].param_groups[0] for i in range(self.k)]
        if not self._batchable(groups, members):
            return False
        with torch.no_grad():
            for subset, first in self._partition(members):
                coefs = self._coefs([groups[i] for i in subset], subset)
                rows = (
                    None
                    if len(subset) == self.k
                    else torch.tensor(subset, dtype=torch.long, device=self.device)
                )
                for name in self.names:
                    self._run(name, grads[name], rows, coefs, first)
            self._advance(members)
        for i in members:
            if not self.started[i]:
                self.started[i] = True
                self._publish(i)
        return True

    def _run(
        self,
        name: str,
        grad: torch.Tensor,
        rows: torch.Tensor | None,
        coefs: _Coefs,
        first: bool,
    ) -> None:
        """The update of one stacked parameter, on the members ``rows`` (``None``: all)."""
        p, state = self.params[name], self.state[name]
        if rows is None:
            self._blocks(p, grad, state, coefs, first)
            return
        sub = {key: t.index_select(0, rows) for key, t in state.items()}
        p_sub = p.index_select(0, rows)
        self._blocks(p_sub, grad.index_select(0, rows), sub, coefs, first)
        p.index_copy_(0, rows, p_sub)
        for key, t in state.items():
            t.index_copy_(0, rows, sub[key])

    def _blocks(
        self,
        p: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        coefs: _Coefs,
        first: bool,
    ) -> None:
        """:meth:`_update` over blocks of members of about :data:`BLOCK_BYTES` per tensor, so
        that the several passes of an update over a large parameter stay in the cache."""
        per = max(1, BLOCK_BYTES // max(1, p[0].numel() * p.element_size())) if len(p) else 1
        if per >= len(p):
            self._update(p, grad, state, coefs, first)
            return
        for lo in range(0, len(p), per):
            coefs.window = slice(lo, lo + per)
            block = {key: t[lo : lo + per] for key, t in state.items()}
            self._update(p[lo : lo + per], grad[lo : lo + per], block, coefs, first)
        coefs.window = None

    def _batchable(self, groups: Sequence[Mapping[str, Any]], members: Sequence[int]) -> bool:
        return all(_number(groups[i]["lr"]) for i in members)

    def _partition(self, members: list[int]) -> list[tuple[list[int], bool]]:
        """The live members in sets that take the same code path (``first``: their first step)."""
        return [(members, False)]

    def _coefs(self, groups: Sequence[Mapping[str, Any]], subset: Sequence[int]) -> _Coefs:
        raise NotImplementedError

    def _update(
        self,
        p: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        coefs: _Coefs,
        first: bool,
    ) -> None:
        raise NotImplementedError

    def _advance(self, members: Sequence[int]) -> None:
        """Count the step of ``members`` (where the optimizer counts steps)."""


class BatchedSGD(BatchedOptimizer):
    """``torch.optim.SGD`` (any momentum, dampening, nesterov, weight decay) for K members."""

    def __init__(self, *args: Any) -> None:
        group = args[0][0].param_groups[0]
        self.momentum_on = group["momentum"] != 0
        self.nesterov = bool(group["nesterov"])
        self.state_keys = ("momentum_buffer",) if self.momentum_on else ()
        super().__init__(*args)

    def _batchable(self, groups: Sequence[Mapping[str, Any]], members: Sequence[int]) -> bool:
        return super()._batchable(groups, members) and all(
            (groups[i]["momentum"] != 0) == self.momentum_on
            and bool(groups[i]["nesterov"]) == self.nesterov
            and _number(groups[i]["momentum"])
            and _number(groups[i]["dampening"])
            and _number(groups[i]["weight_decay"])
            for i in members
        )

    def _partition(self, members: list[int]) -> list[tuple[list[int], bool]]:
        if not self.momentum_on:
            return [(members, False)]
        fresh = [i for i in members if not self.started[i]]
        going = [i for i in members if self.started[i]]
        return [(s, s is fresh) for s in (fresh, going) if s]

    def _coefs(self, groups: Sequence[Mapping[str, Any]], subset: Sequence[int]) -> _Coefs:
        coefs = _Coefs(self.device)
        coefs.set("neg_lr", [-float(g["lr"]) for g in groups])
        coefs.set("weight_decay", [float(g["weight_decay"]) for g in groups])
        coefs.set("momentum", [float(g["momentum"]) for g in groups])
        coefs.set("keep", [1 - float(g["dampening"]) for g in groups])
        return coefs

    def _update(
        self,
        p: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        coefs: _Coefs,
        first: bool,
    ) -> None:
        d_p = grad
        if coefs.scalar("weight_decay") != 0:
            d_p = _axpy(grad, p, coefs.get("weight_decay", p))
        if self.momentum_on:
            buf = state["momentum_buffer"]
            momentum = coefs.get("momentum", p)
            if first:
                buf.copy_(d_p)
            else:
                _axpy_(buf.mul_(momentum), d_p, coefs.get("keep", p))
            d_p = _axpy(d_p, buf, momentum) if self.nesterov else buf
        _axpy_(p, d_p, coefs.get("neg_lr", p))


class BatchedAdam(BatchedOptimizer):
    """``torch.optim.Adam`` / ``AdamW`` (any betas, eps, weight decay; ``amsgrad=False``) for K
    members; AdamW is Adam with ``decoupled_weight_decay=True``."""

    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, *args: Any) -> None:
        self.decoupled = bool(args[0][0].param_groups[0].get("decoupled_weight_decay", False))
        names = [n for n in args[1] if n in set(args[3])]
        #: ``steps[j, i]``: the step count of member i's parameter j (float32 on the CPU, as
        #: torch keeps it); ``state["step"]`` of a member optimizer is a 0-d view into it
        self.steps = torch.zeros(len(names), len(args[0]), dtype=torch.float32)
        super().__init__(*args)

    def _member_state(self, name: str, i: int) -> dict[str, torch.Tensor]:
        return {
            "step": self.steps[self.names.index(name), i],
            "exp_avg": self.state[name]["exp_avg"][i],
            "exp_avg_sq": self.state[name]["exp_avg_sq"][i],
        }

    def _take(self, j: int, name: str, i: int, held: Mapping[str, Any] | None) -> None:
        super()._take(j, name, i, held)  # the moments; "step" lives in self.steps
        self.steps[j, i] = 0.0 if held is None else float(held["step"])

    def _batchable(self, groups: Sequence[Mapping[str, Any]], members: Sequence[int]) -> bool:
        return super()._batchable(groups, members) and all(
            not groups[i].get("amsgrad")
            and bool(groups[i].get("decoupled_weight_decay", False)) == self.decoupled
            and all(_number(b) for b in groups[i]["betas"])
            and _number(groups[i]["eps"])
            and _number(groups[i]["weight_decay"])
            for i in members
        )

    def _coefs(self, groups: Sequence[Mapping[str, Any]], subset: Sequence[int]) -> _Coefs:
        coefs = _Coefs(self.device)
        # torch: step = float(step_t) after step_t += 1; bias corrections in Python floats
        steps = [float(self.steps[0, i]) + 1 for i in subset]
        lrs = [float(g["lr"]) for g in groups]
        b1 = [float(g["betas"][0]) for g in groups]
        b2 = [float(g["betas"][1]) for g in groups]
        wd = [float(g["weight_decay"]) for g in groups]
        coefs.set("weight_decay", wd)
        coefs.set("decay", [1 - lr * w for lr, w in zip(lrs, wd, strict=True)])
        coefs.set("one_minus_beta1", [1 - b for b in b1])
        coefs.set("beta2", b2)
        coefs.set("one_minus_beta2", [1 - b for b in b2])
        coefs.set("eps", [float(g["eps"]) for g in groups])
        coefs.set(
            "neg_step_size",
            [-(lr / (1 - b**t)) for lr, b, t in zip(lrs, b1, steps, strict=True)],
        )
        coefs.set("bc2_sqrt", [(1 - b**t) ** 0.5 for b, t in zip(b2, steps, strict=True)])
        return coefs

    def _update(
        self,
        p: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, torch.Tensor],
        coefs: _Coefs,
        first: bool,
    ) -> None:
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if coefs.scalar("weight_decay") != 0:
            if self.decoupled:
                p.mul_(coefs.get("decay", p))
            else:
                grad = _axpy(grad, p, coefs.get("weight_decay", p))
        exp_avg.lerp_(grad, coefs.get("one_minus_beta1", p))
        exp_avg_sq.mul_(coefs.get("beta2", p))
        c2 = coefs.get("one_minus_beta2", p)
        if isinstance(c2, float):
            exp_avg_sq.addcmul_(grad, grad, value=c2)
        else:
            exp_avg_sq.addcmul_(grad * c2, grad)  # torch: value * g * g, left to right
        denom = (exp_avg_sq.sqrt() / coefs.get("bc2_sqrt", p)).add_(coefs.get("eps", p))
        step = coefs.get("neg_step_size", p)
        if isinstance(step, float):
            p.addcdiv_(exp_avg, denom, value=step)
        else:
            p.addcdiv_(exp_avg * step, denom)

    def _advance(self, members: Sequence[int]) -> None:
        if len(members) == self.k:
            self.steps += 1
        else:
            self.steps[:, members] += 1
