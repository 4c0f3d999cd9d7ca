"""The lab's models: standard ``torch.nn`` modules and their K-member stacked (batched) form.

:func:`build_model` gives the single model a user would write (``torch.manual_seed(seed)`` before it
fixes its initialisation).  :class:`StackedModel` holds K such models as one set of parameters with a
leading member dimension K (``params[name][k]`` is member k's tensor, initialised exactly as
``build_model`` after ``torch.manual_seed(seeds[k])``) and runs them together: batched matmuls
(``torch.baddbmm``) for the all-linear models, ``torch.func.vmap`` over ``functional_call`` for the
others.  Inputs are ``(K, B, *input_shape)``: each member sees its own minibatch (in training,
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

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from schedlab.errors import ConfigError
from schedlab.lab.train.config import MODELS


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


def _group_slices(sizes: Sequence[int]) -> list[slice]:
    """The members of each group, for groups of ``sizes[g]`` consecutive members."""
    bounds = [0, *itertools.accumulate(sizes)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]


class _GroupViews:
    """Per-group 2-D views of (K, rows, cols) tensors, cached: group g's m members as one
    ``(m * rows, cols)`` matrix (a view: the members of a group are consecutive).

    The tensors viewed (parameters, workspace buffers, optimizer buffers) live as long as the model
    and keep their storage, so their views are made once and not once per step.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple[torch.Tensor, list[torch.Tensor]]] = {}

    def __call__(
        self, t: torch.Tensor, sizes: tuple[int, ...], *, cache: bool = True
    ) -> list[torch.Tensor]:
        """The views of ``t`` ((K, rows, cols), or (K, rows) as (K, rows, 1)); ``cache=False`` for
        a tensor made afresh at every step (caching it would keep every one of them alive)."""
        key = (id(t), t.data_ptr(), tuple(t.shape), tuple(t.stride()), sizes)
        hit = self._cache.get(key) if cache else None
        if hit is None or hit[0] is not t:
            rows, cols = (t.shape[1], 1) if t.dim() == 2 else (t.shape[1], t.shape[2])
            views = [
                t[members].reshape((members.stop - members.start) * rows, cols)
                for members in _group_slices(sizes)
            ]
            if not cache:
                return views
            hit = self._cache[key] = (t, views)
        return hit[1]


def _is_linear_stack(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) and all(
        isinstance(m, (nn.Flatten, nn.Linear, nn.ReLU)) for m in module
    )


class StackedModel:
    """K models of one architecture as stacked parameters with a leading member dimension.

    ``params[name]`` has shape ``(K, *shape of that parameter in build_model)`` and is a leaf
    tensor that requires grad; member k is initialised exactly as ``build_model`` after
    ``torch.manual_seed(seeds[k])`` (torch's global RNG is left as it was).
    """

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        num_classes: int,
        seeds: Sequence[int],
        device: str | torch.device = "cpu",
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
        self._linear = _is_linear_stack(self.template)
        first = next(iter(self.params.values()))
        self.device, self.template_dtype = first.device, first.dtype
        self._workspace: dict[tuple, torch.Tensor] = {}
        self._group_views = _GroupViews()
        self._vmapped = torch.func.vmap(self._call_one, in_dims=(0, 0))
        self._vmapped_shared = torch.func.vmap(self._call_one, in_dims=(0, None))

    @property
    def size(self) -> int:
        """Number of members K."""
        return next(iter(self.params.values())).shape[0]

    @property
    def all_linear(self) -> bool:
        """True for the Flatten/Linear/ReLU stacks, which run as hand-written batched matmuls."""
        return self._linear

    def num_parameters(self) -> int:
        """Parameters of ONE member (the single model's count)."""
        return sum(p[0].numel() for p in self.params.values())

    def _call_one(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.template, params, (x,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` for member-wise inputs ``x`` of shape ``(K, B, *input_shape)``."""
        if self._linear:
            z = self._linear_forward(x.reshape(x.shape[0], x.shape[1], -1), shared=False)
            return z.transpose(1, 2).contiguous()  # small: loss and argmax read it fast
        return self._vmapped(self.params, x)

    def forward_shared(self, x: torch.Tensor, *, feature_major: bool = False) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` of every member on the same inputs ``x`` ``(B, *input_shape)``;
        with ``feature_major=True`` as ``(K, outputs, B)`` (contiguous for the all-linear models,
        which compute them in that layout, a transposed view otherwise)."""
        if self._linear:
            z = self._linear_forward(x.reshape(x.shape[0], -1), shared=True)
            return z if feature_major else z.transpose(1, 2).contiguous()
        out = self._vmapped_shared(self.params, x)
        return out.transpose(1, 2) if feature_major else out

    def _group_sizes(self, x: torch.Tensor, groups: Sequence[int] | None) -> tuple[int, ...]:
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

        ``accumulate=(buffers, beta)``: accumulate each gradient into ``buffers[name]`` (a tensor
        shaped as ``params[name]``) as ``buffers[name] = beta * buffers[name] + grad`` and return
        those buffers as the gradients; SGD's momentum update, which the all-linear models run
        inside their weight-gradient matmuls (``addmm``/``baddbmm`` with ``beta``) instead of as
        a pass of its own over the gradients and buffers.
        """
        sizes = self._group_sizes(x, groups)
        if accumulate is not None:
            self._check_accumulate(accumulate)
        if not self._linear:
            if len(sizes) < self.size:  # one minibatch per member again
                x = x.repeat_interleave(torch.tensor(sizes, device=x.device), dim=0)
            out = self._vmapped(self.params, x)
            losses = loss(out)
            grads = list(torch.autograd.grad(losses.sum(), list(self.params.values())))
            if accumulate is not None:
                buffers, beta = accumulate
                with torch.no_grad():
                    grads = [
                        buffers[k].mul_(beta).add_(g)
                        for k, g in zip(self.params, grads, strict=True)
                    ]
            return out.detach(), losses.detach(), grads
        buffers, beta = accumulate if accumulate is not None else ({}, 0.0)
        grouped = len(sizes) < self.size
        with torch.no_grad():
            rows = x.reshape(x.shape[0], x.shape[1], -1)  # (G, B, d)
            h = rows.transpose(1, 2)  # feature-major (G, d, B)
            saved = []  # per Linear: (its index, its input (K, in, B), its ReLU output or None)
            for index, layer in enumerate(self.template):
                if isinstance(layer, nn.Linear):
                    w, b = self.params[f"{index}.weight"], self.params[f"{index}.bias"]
                    z = self._buffer(("z", index), (w.shape[0], w.shape[1], h.shape[2]))
                    saved.append([index, h, None])
                    if grouped and len(saved) == 1:  # the first Linear reads x: per group
                        # m members: z = W x^T + b as one (m*out, d) @ (d, B) matmul
                        views = zip(
                            self._group_views(b, sizes),
                            self._group_views(w, sizes),
                            h.unbind(0),  # each group's x^T (d, B)
                            self._group_views(z, sizes),
                            strict=True,
                        )
                        for bias, weight, xt, dst in views:
                            torch.addmm(bias, weight, xt, out=dst)
                        h = z
                    else:
                        h = torch.baddbmm(b.unsqueeze(2), w, h, out=z)
                elif isinstance(layer, nn.ReLU):
                    h = h.relu_()  # in place on the Linear's output: the same clamp kernel
                    saved[-1][2] = h
            fused = getattr(loss, "value_and_grad", None)
            if fused is not None:  # losses and their gradient straight from the feature-major z
                losses, g = fused(h)
                out = h.transpose(1, 2).contiguous()  # (K, B, outputs): argmax reads it fast
        if fused is None:
            out = h.transpose(1, 2).contiguous()
            out.requires_grad_()
            losses = loss(out)
            (grad_out,) = torch.autograd.grad(losses.sum(), out)
            g = grad_out.transpose(1, 2)  # (K, outputs, B), as autograd hands it back
        with torch.no_grad():
            for position in range(len(saved) - 1, -1, -1):
                index, h, _ = saved[position]
                w = self.params[f"{index}.weight"]
                dw = buffers.get(f"{index}.weight")
                if dw is None:
                    dw = self._buffer(("dw", index), w.shape)
                if grouped and position == 0:  # per group: one (m*out, B) @ (B, d) matmul
                    views = zip(
                        self._group_views(dw, sizes),
                        # g is a workspace buffer unless the model has no hidden layer
                        self._group_views(g, sizes, cache=len(saved) > 1),
                        rows.unbind(0),
                        strict=True,
                    )
                    for dst, grad, xg in views:  # dst = beta * dst + grad @ x
                        torch.addmm(dst, grad, xg, beta=beta, out=dst)
                else:
                    torch.baddbmm(dw, g, h.transpose(1, 2), beta=beta, out=dw)
                db = torch.sum(
                    g, 2, keepdim=True, out=self._buffer(("db", index), (*w.shape[:2], 1))
                )
                bias_buffer = buffers.get(f"{index}.bias")
                if bias_buffer is not None:
                    torch.add(db.squeeze(2), bias_buffer, alpha=beta, out=bias_buffer)
                if position == 0:  # the input needs no gradient
                    break
                dh = torch.bmm(w.transpose(1, 2), g, out=self._buffer(("dh", index), h.shape))
                relu_out = saved[position - 1][2]
                if relu_out is not None:
                    # in place on dh: one 4 B/element buffer less in the cache
                    g = torch.ops.aten.threshold_backward.grad_input(dh, relu_out, 0, grad_input=dh)
                else:
                    g = dh
        grads = []
        for key, p in self.params.items():
            index, kind = key.split(".")
            if key in buffers:
                grads.append(buffers[key])
            elif kind == "weight":
                grads.append(self._buffer(("dw", int(index)), p.shape))
            else:
                grads.append(self._buffer(("db", int(index)), (*p.shape, 1)).squeeze(2))
        return out.detach(), losses.detach(), grads

    def _check_accumulate(self, accumulate: tuple[Mapping[str, torch.Tensor], float]) -> None:
        buffers, _ = accumulate
        for key, p in self.params.items():
            buf = buffers.get(key) if isinstance(buffers, Mapping) else None
            if buf is None or buf.shape != p.shape or not buf.is_contiguous():
                raise ConfigError(
                    f"accumulate: buffers must map every parameter name ({', '.join(self.params)}) "
                    f"to a contiguous tensor of its shape; {key!r} has shape {tuple(p.shape)}, "
                    f"got {None if buf is None else (tuple(buf.shape), buf.is_contiguous())}"
                )

    def _buffer(self, key: tuple, shape: Sequence[int]) -> torch.Tensor:
        """A float32 workspace tensor of ``shape`` kept for reuse under ``key`` (contents undefined).

        Reusing buffers spares the allocator the page faults of fresh multi-MiB tensors each step.
        """
        shape = tuple(int(n) for n in shape)
        buf = self._workspace.get((key, shape))
        if buf is None:
            buf = torch.empty(shape, dtype=self.template_dtype, device=self.device)
            self._workspace[(key, shape)] = buf
        return buf

    def _linear_forward(self, h: torch.Tensor, *, shared: bool) -> torch.Tensor:
        """The Flatten/Linear/ReLU stack: h is (K, B, d) member-wise, or (B, d) shared.

        Member-wise inputs run feature-major, ``h^T = W h^T + b`` with ``h^T`` of shape (K, d, B):
        every weight gradient ``dh^T x`` then comes out contiguous in the weight's own layout.
        Returns the feature-major outputs ``(K, out, B)``.
        """
        h = h.transpose(-2, -1)  # (K, d, B) or (d, B)
        for index, layer in enumerate(self.template):
            if isinstance(layer, nn.Linear):
                w, b = self.params[f"{index}.weight"], self.params[f"{index}.bias"]
                if shared:  # one (K*out, d) @ (d, B) matmul for all members
                    k, out, d = w.shape
                    h = torch.addmm(b.reshape(k * out, 1), w.reshape(k * out, d), h)
                    h = h.view(k, out, -1)
                    shared = False
                else:
                    h = torch.baddbmm(b.unsqueeze(2), w, h)
            elif isinstance(layer, nn.ReLU):
                h = h.relu_()  # in place on the fresh matmul output: no new tensor
        return h  # feature-major (K, out, B)

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
