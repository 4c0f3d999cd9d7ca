"""The lab's models: standard ``torch.nn`` modules and their K-member stacked (batched) form.

:func:`build_model` gives the single model a user would write (``torch.manual_seed(seed)`` before it
fixes its initialisation).  :class:`StackedModel` holds K such models as one set of parameters with a
leading member dimension K (``params[name][k]`` is member k's tensor, initialised exactly as
``build_model`` after ``torch.manual_seed(seeds[k])``) and runs them together on one of two paths:
the hand-written batched matmuls of :mod:`schedlab.lab.train.linear` for the all-linear models,
:class:`AutogradPath` (``torch.func.vmap`` over ``functional_call``, autograd) for the others.  Inputs are ``(K, B, *input_shape)``: each member sees its own minibatch (in training,
consecutive members may share one: see :meth:`StackedModel.loss_and_grads`).

Architectures (``input_shape`` ``(C, H, W)`` or ``(d,)``; ``num_classes == 0`` means one regression
output):

- ``mlp``: flatten, Linear(d, 128), ReLU, Linear(128, classes)  (784-128-10 on MNIST)
- ``mlp2``: flatten, Linear(d, 256), ReLU, Linear(256, 128), ReLU, Linear(128, classes)
- ``cnn``: Conv(C, 16, 3, pad 1), ReLU, MaxPool 2, Conv(16, 32, 3, pad 1), ReLU, MaxPool 2, flatten,
  Linear(32 * (H//4) * (W//4), classes)
- ``vit``: 4x4 grid of patches (patch size H/4), Linear patch embedding to 64, class token, learned
  position embedding, 2 pre-norm transformer blocks (4 heads, MLP 128, GELU), LayerNorm, Linear head
- ``linear``: flatten, Linear(d, classes or 1)  (linear regression with MSE, or logistic regression)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from schedlab.errors import ConfigError
from schedlab.lab.train.config import MODELS
from schedlab.lab.train.linear import LinearPath, is_linear_stack


def _features(input_shape: tuple[int, ...]) -> int:
    return math.prod(input_shape)


def _outputs(num_classes: int) -> int:
    return num_classes if num_classes > 0 else 1


def _mlp(input_shape: tuple[int, ...], num_classes: int, hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = _features(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, _outputs(num_classes)))
    return nn.Sequential(*layers)


def _image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ConfigError(
            f"model {model!r} needs an image input_shape (C, H, W); got {tuple(input_shape)!r}"
        )
    return input_shape  # type: ignore[return-value]


def _cnn(input_shape: tuple[int, ...], num_classes: int) -> nn.Sequential:
    c, h, w = _image_shape("cnn", input_shape)
    if h < 4 or w < 4:
        raise ConfigError(
            f"model 'cnn' needs images of at least 4x4; got input_shape {input_shape!r}"
        )
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (h // 4) * (w // 4), _outputs(num_classes)),
    )


class Attention(nn.Module):
    """Multi-head self-attention: softmax(q k^T / sqrt(head_dim)) v, then a linear projection."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        out = att.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A small vision transformer (Dosovitskiy et al. 2021) on a 4x4 grid of patches."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        *,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_dim: int = 128,
    ) -> None:
        super().__init__()
        c, h, w = _image_shape("vit", input_shape)
        if h % 4 or w % 4:
            raise ConfigError(
                f"model 'vit' needs image height and width divisible by 4; got input_shape "
                f"{input_shape!r}"
            )
        self.shape = (c, h, w)
        self.patch = (h // 4, w // 4)
        self.embed = nn.Linear(c * self.patch[0] * self.patch[1], dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 17, dim))
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, _outputs(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        (c, _, _), (ph, pw) = self.shape, self.patch
        patches = x.reshape(b, c, 4, ph, 4, pw).permute(0, 2, 4, 1, 3, 5).reshape(b, 16, -1)
        tokens = torch.cat([self.cls.expand(b, -1, -1), self.embed(patches)], dim=1) + self.pos
        return self.head(self.norm(self.blocks(tokens))[:, 0])


_BUILDERS: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "mlp": lambda shape, classes: _mlp(shape, classes, (128,)),
    "mlp2": lambda shape, classes: _mlp(shape, classes, (256, 128)),
    "cnn": _cnn,
    "vit": ViT,
    "linear": lambda shape, classes: _mlp(shape, classes, ()),
}


def build_model(name: str, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """The standard single ``torch.nn`` model ``name`` for inputs of ``input_shape``.

    Its initialisation comes from torch's global RNG, as for any ``torch.nn`` module.
    ``num_classes == 0`` builds one regression output.
    """
    if name not in _BUILDERS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {name!r}")
    return _BUILDERS[name](tuple(int(s) for s in input_shape), int(num_classes))


def _per_member(x: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """``(K, B, ...)`` from one minibatch per group ``x`` ``(G, B, ...)``: group g's row repeated
    for each of its ``sizes[g]`` members (``x`` itself when every member has its own)."""
    if len(sizes) == sum(sizes):
        return x
    return x.repeat_interleave(torch.tensor(sizes, device=x.device), dim=0)


def _accumulate(
    grads: list[torch.Tensor],
    accumulate: tuple[Mapping[str, torch.Tensor], float],
    names: list[str],
) -> list[torch.Tensor]:
    """``buffers[name] = beta * buffers[name] + grad`` for each gradient, in place; the buffers."""
    buffers, beta = accumulate
    with torch.no_grad():
        return [buffers[k].mul_(beta).add_(g) for k, g in zip(names, grads, strict=True)]


class AutogradPath:
    """K stacked members of any architecture: ``torch.func.vmap`` over ``functional_call`` of the
    single ``template`` module, differentiated by autograd.

    ``params`` is the stacked model's dict (``params[name]`` ``(K, *shape)``), read at every call.
    """

    def __init__(self, template: nn.Module, params: Mapping[str, torch.Tensor]) -> None:
        self.template, self.params = template, params
        self._vmapped = torch.func.vmap(self._call_one, in_dims=(0, 0))
        self._vmapped_shared = torch.func.vmap(self._call_one, in_dims=(0, None))

    def _call_one(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """One member: ``template(x)`` with that member's ``params`` (``x`` ``(B, *input_shape)``)."""
        return torch.func.functional_call(self.template, params, (x,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` for member-wise inputs ``x`` ``(K, B, *input_shape)``."""
        return self._vmapped(self.params, x)

    def forward_shared(self, x: torch.Tensor, *, feature_major: bool = False) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` of every member on ``x`` ``(B, *input_shape)``; with
        ``feature_major=True`` the transposed view ``(K, outputs, B)``."""
        out = self._vmapped_shared(self.params, x)
        return out.transpose(1, 2) if feature_major else out

    def loss_and_grads(
        self,
        x: torch.Tensor,
        loss: Callable[[torch.Tensor], torch.Tensor],
        sizes: tuple[int, ...],
        accumulate: tuple[Mapping[str, torch.Tensor], float] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Outputs, losses and the gradients of ``sum(losses)`` (autograd) for ``x``
        ``(G, B, *input_shape)`` with ``sizes`` members per minibatch, as
        :meth:`StackedModel.loss_and_grads` documents them."""
        out = self._vmapped(self.params, _per_member(x, sizes))
        losses = loss(out)
        grads = list(torch.autograd.grad(losses.sum(), list(self.params.values())))
        if accumulate is not None:
            grads = _accumulate(grads, accumulate, list(self.params))
        return out.detach(), losses.detach(), grads


class StackedModel:
    """K models of one architecture as stacked parameters with a leading member dimension.

    ``params[name]`` has shape ``(K, *shape of that parameter in build_model)`` and is a leaf
    tensor that requires grad; member k is initialised exactly as ``build_model`` after
    ``torch.manual_seed(seeds[k])`` (torch's global RNG is left as it was).

    The all-linear models (Flatten/Linear/ReLU stacks) run on the hand-written
    :class:`schedlab.lab.train.linear.LinearPath`, the others on :class:`AutogradPath`.
    ``_autograd=True`` (private: the benchmark's reference) runs the autograd path for any model.
    """

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        num_classes: int,
        seeds: Sequence[int],
        device: str | torch.device = "cpu",
        *,
        _autograd: bool = False,
    ) -> None:
        if not seeds:
            raise ConfigError("StackedModel: seeds must name at least one member; got []")
        self.name = name
        self.input_shape = tuple(int(s) for s in input_shape)
        members = []
        with torch.random.fork_rng(devices=[]):
            for seed in seeds:
                torch.manual_seed(int(seed))
                members.append(build_model(name, self.input_shape, num_classes))
        self.template = members[0].to(device)
        self.template.requires_grad_(False)
        self.params: dict[str, torch.Tensor] = {
            key: torch.stack([dict(m.named_parameters())[key].detach() for m in members])
            .to(device)
            .requires_grad_()
            for key, _ in members[0].named_parameters()
        }
        first = next(iter(self.params.values()))
        self.device, self.template_dtype = first.device, first.dtype
        self._path: LinearPath | AutogradPath
        if is_linear_stack(self.template) and not _autograd:
            self._path = LinearPath(self.template, self.params)
        else:
            self._path = AutogradPath(self.template, self.params)

    @property
    def size(self) -> int:
        """Number of members K."""
        return next(iter(self.params.values())).shape[0]

    @property
    def all_linear(self) -> bool:
        """True for the Flatten/Linear/ReLU stacks, which run as hand-written batched matmuls."""
        return isinstance(self._path, LinearPath)

    def num_parameters(self) -> int:
        """Parameters of ONE member (the single model's count)."""
        return sum(p[0].numel() for p in self.params.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` for member-wise inputs ``x`` of shape ``(K, B, *input_shape)``."""
        return self._path.forward(x)

    def forward_shared(self, x: torch.Tensor, *, feature_major: bool = False) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` of every member on the same inputs ``x`` ``(B, *input_shape)``;
        with ``feature_major=True`` as ``(K, outputs, B)`` (contiguous for the all-linear models,
        which compute them in that layout, a transposed view otherwise)."""
        return self._path.forward_shared(x, feature_major=feature_major)

    def _group_sizes(self, x: torch.Tensor, groups: Sequence[int] | None) -> tuple[int, ...]:
        """The members per minibatch of ``x`` ``(G, B, ...)``: ``groups``, checked, or one each."""
        k = self.size
        if groups is None:
            groups = (1,) * k
        sizes = tuple(int(m) for m in groups)
        if any(m < 1 for m in sizes) or sum(sizes) != k or len(sizes) != x.shape[0]:
            raise ConfigError(
                f"groups must be positive member counts summing to K={k}, one per row of x "
                f"({x.shape[0]}); got {groups!r}"
            )
        return sizes

    def loss_and_grads(
        self,
        x: torch.Tensor,
        loss: Callable[[torch.Tensor], torch.Tensor],
        groups: Sequence[int] | None = None,
        accumulate: tuple[Mapping[str, torch.Tensor], float] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """One training step's forward and backward for member-wise inputs ``x`` ``(K, B, *input_shape)``.

        ``groups``: optional counts of consecutive members that share one minibatch; then ``x``
        holds one minibatch per group, ``(len(groups), B, *input_shape)`` (members trained with
        the same seed see the same samples).  ``loss(out)`` maps the outputs ``(K, B, outputs)`` to
        per-member losses ``(K,)``.  Returns the outputs and the losses (both detached) and, in
        ``params`` order, the gradient of the losses' sum with respect to every parameter.

        The all-linear models skip autograd for their layers (only the small loss on the outputs
        goes through it): the backward runs the batched matmuls, bias sums and ReLU masks that
        autograd runs, on tensors of the same layout, so the gradients are bitwise those of
        autograd; no gradient is computed for the input.  A ``loss`` with a ``value_and_grad(z)``
        method (:class:`schedlab.lab.train.losses.MemberCrossEntropy`) gives the losses and their
        gradient directly from the feature-major logits (float32 tolerance of autograd's, not
        bitwise).  A group of m members sharing a minibatch runs its first layer as one
        ``(m*out, d) @ (d, B)`` matmul forward and one ``(m*out, B) @ (B, d)`` for the weight
        gradient: the same per-member sums, which BLAS may round differently (float32 tolerance,
        not bitwise).  Large intermediates and the gradients live in buffers reused from one call
        to the next: use the gradients before the next call.  The other models use autograd.
        (:mod:`schedlab.lab.train.linear` has the formulas.)

        ``accumulate=(buffers, beta)``: accumulate each gradient into ``buffers[name]`` (a tensor
        shaped as ``params[name]``) as ``buffers[name] = beta * buffers[name] + grad`` and return
        those buffers as the gradients; SGD's momentum update, which the all-linear models run
        inside their weight-gradient matmuls (``addmm``/``baddbmm`` with ``beta``) instead of as
        a pass of its own over the gradients and buffers.
        """
        sizes = self._group_sizes(x, groups)
        if accumulate is not None:
            self._check_accumulate(accumulate)
        return self._path.loss_and_grads(x, loss, sizes, accumulate)

    def _check_accumulate(self, accumulate: tuple[Mapping[str, torch.Tensor], float]) -> None:
        """Refuse ``accumulate`` buffers that are not one contiguous tensor per parameter, of its shape."""
        buffers, _ = accumulate
        for key, p in self.params.items():
            buf = buffers.get(key) if isinstance(buffers, Mapping) else None
            if buf is None or buf.shape != p.shape or not buf.is_contiguous():
                raise ConfigError(
                    f"accumulate: buffers must map every parameter name ({', '.join(self.params)}) "
                    f"to a contiguous tensor of its shape; {key!r} has shape {tuple(p.shape)}, "
                    f"got {None if buf is None else (tuple(buf.shape), buf.is_contiguous())}"
                )

    def member_parameters(self, i: int) -> dict[str, torch.Tensor]:
        """Member ``i``'s parameters as a detached CPU ``state_dict`` of the single model."""
        return {key: p[i].detach().cpu().clone() for key, p in self.params.items()}

    def load_member_parameters(self, i: int, state: dict[str, torch.Tensor]) -> None:
        """Overwrite member ``i``'s parameters from a single-model ``state_dict``."""
        missing = sorted(set(self.params) ^ set(state))
        if missing:
            raise ConfigError(
                f"StackedModel: state keys must be {sorted(self.params)}; differing keys {missing}"
            )
        with torch.no_grad():
            for key, p in self.params.items():
                p[i].copy_(state[key])
