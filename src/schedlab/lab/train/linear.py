"""The hand-written path of :class:`~schedlab.lab.train.models.StackedModel` for the all-linear stacks.

The ``mlp``, ``mlp2`` and ``linear`` models are ``nn.Sequential`` stacks of Flatten, Linear and
ReLU.  For K of them, :class:`LinearPath` runs forward and backward as batched matmuls without
autograd (only a loss without ``value_and_grad`` goes through it, on the outputs).

Notation: K members; G minibatches (G = K, or one per group of consecutive members that share a
minibatch); B samples per minibatch; layer l has weights ``W`` ``(K, out, in)`` and bias ``b``
``(K, out)``.  Activations are *feature-major*, ``h^T`` of shape ``(K, in, B)``, so that

- forward: ``z = W h^T + b`` ``(K, out, B)`` (``torch.baddbmm``), ``h'^T = relu(z)`` (in place);
- backward, with ``g = d sum(losses) / dz`` ``(K, out, B)``:
  ``dW = g h`` ``(K, out, B) @ (K, B, in)``, contiguous in ``W``'s own layout;
  ``db = sum_B g`` ``(K, out, 1)``;
  ``dh^T = W^T g`` ``(K, in, out) @ (K, out, B)``, and the previous layer's
  ``g = dh^T * (h^T > 0)`` where a ReLU made ``h^T`` (in place on ``dh^T``).

These are the kernels autograd runs backward through the same batched forward
(:meth:`LinearPath.forward`), so the gradients are bitwise those (no gradient is computed for the
input); the autograd path's ``vmap`` of the single model runs other kernels on other layouts
(float32 tolerance; ``benchmarks/linear_backward.py`` times the two).  Three departures, each
float32 tolerance of autograd rather than bitwise:

- a group of m members sharing a minibatch runs its first layer as one ``(m*out, d) @ (d, B)``
  matmul forward and one ``(m*out, B) @ (B, d)`` for the weight gradient (:class:`_GroupViews`);
  the sums are the per-member ones, which BLAS may round differently;
- a loss with ``value_and_grad(z)`` (:class:`schedlab.lab.train.losses.MemberCrossEntropy`) gives
  the losses and ``g`` straight from the feature-major logits ``z``;
- with ``accumulate=(buffers, beta)``, SGD momentum ``buf = beta * buf + grad`` runs inside the
  weight-gradient matmuls (``addmm``/``baddbmm`` with ``beta``) and as ``db + beta * buf`` for the
  biases, instead of as a pass of its own over gradients and buffers (rounded once, not twice).

Large intermediates and the gradients live in a :class:`Workspace` reused from one call to the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

Accumulate = tuple[Mapping[str, torch.Tensor], float]


def is_linear_stack(module: nn.Module) -> bool:
    """True for an ``nn.Sequential`` of Flatten, Linear and ReLU whose every ReLU follows a Linear."""
    if not isinstance(module, nn.Sequential):
        return False
    seen_linear = False
    for m in module:
        if isinstance(m, nn.Linear):
            seen_linear = True
        elif not (isinstance(m, nn.Flatten) or (isinstance(m, nn.ReLU) and seen_linear)):
            return False
    return seen_linear


@dataclass(frozen=True)
class Layer:
    """One Linear of the stack: its position ``index`` in the ``nn.Sequential`` (the prefix of its
    parameter names) and whether a ReLU follows it."""

    index: int
    relu: bool

    @property
    def weight(self) -> str:
        return f"{self.index}.weight"

    @property
    def bias(self) -> str:
        return f"{self.index}.bias"


def linear_layers(stack: nn.Sequential) -> tuple[Layer, ...]:
    """The Linear layers of a linear stack in order (Flatten is a no-op on ``(B, d)`` rows)."""
    layers: list[Layer] = []
    for index, module in enumerate(stack):
        if isinstance(module, nn.Linear):
            layers.append(Layer(index, relu=False))
        elif isinstance(module, nn.ReLU):
            layers[-1] = Layer(layers[-1].index, relu=True)
    return tuple(layers)


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


class Workspace:
    """Tensors of one dtype and device kept for reuse under a key and a shape (contents undefined).

    Reusing buffers spares the allocator the page faults of fresh multi-MiB tensors each step.
    """

    def __init__(self, dtype: torch.dtype, device: torch.device) -> None:
        self.dtype, self.device = dtype, device
        self._buffers: dict[tuple, torch.Tensor] = {}

    def __call__(self, key: tuple, shape: Sequence[int]) -> torch.Tensor:
        """The buffer ``key`` of ``shape``, made on first use."""
        shape = tuple(int(n) for n in shape)
        buf = self._buffers.get((key, shape))
        if buf is None:
            buf = torch.empty(shape, dtype=self.dtype, device=self.device)
            self._buffers[(key, shape)] = buf
        return buf


def _output_grad(
    z: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(out (K, B, outputs), losses (K,), g (K, outputs, B))`` for feature-major logits ``z``
    ``(K, outputs, B)``: ``g = d sum(losses) / dz``.

    A loss with ``value_and_grad`` gives ``losses`` and ``g`` from ``z`` directly; any other runs
    through autograd on the contiguous ``out`` (``g`` is then the transposed view of its gradient,
    the layout autograd hands back).
    """
    fused = getattr(loss, "value_and_grad", None)
    if fused is not None:
        with torch.no_grad():
            losses, g = fused(z)
            out = z.transpose(1, 2).contiguous()  # (K, B, outputs): argmax reads it fast
        return out, losses, g
    out = z.transpose(1, 2).contiguous()
    out.requires_grad_()
    losses = loss(out)
    (grad_out,) = torch.autograd.grad(losses.sum(), out)
    return out, losses, grad_out.transpose(1, 2)


class LinearPath:
    """Forward and backward of K stacked linear stacks by hand (see the module docstring).

    ``params`` is the stacked model's dict (``params[name]`` ``(K, *shape)``), read at every call,
    so updates to it in place are seen.
    """

    def __init__(self, stack: nn.Sequential, params: Mapping[str, torch.Tensor]) -> None:
        self.params = params
        self.layers = linear_layers(stack)
        first = next(iter(params.values()))
        self.size = first.shape[0]
        self.workspace = Workspace(first.dtype, first.device)
        self.group_views = _GroupViews()

    # inference: fresh tensors (autograd can differentiate them)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` for member-wise inputs ``x`` ``(K, B, *input_shape)``."""
        z = self._forward_fresh(x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2))
        return z.transpose(1, 2).contiguous()  # small: loss and argmax read it fast

    def forward_shared(self, x: torch.Tensor, *, feature_major: bool = False) -> torch.Tensor:
        """Outputs ``(K, B, outputs)`` of every member on the same inputs ``x`` ``(B, *input_shape)``,
        or ``(K, outputs, B)`` (contiguous) with ``feature_major=True``."""
        first = self.layers[0]
        w, b = self.params[first.weight], self.params[first.bias]
        k, out, d = w.shape
        # one (K*out, d) @ (d, B) matmul for all members
        z = torch.addmm(b.reshape(k * out, 1), w.reshape(k * out, d), x.reshape(x.shape[0], -1).T)
        z = z.view(k, out, -1)
        if first.relu:
            z = z.relu_()
        z = self._forward_fresh(z, self.layers[1:])
        return z if feature_major else z.transpose(1, 2).contiguous()

    def _forward_fresh(
        self, h: torch.Tensor, layers: Sequence[Layer] | None = None
    ) -> torch.Tensor:
        """Feature-major ``h^T`` ``(K, in, B)`` through ``layers`` (default: all): ``z = W h^T + b``
        (one ``baddbmm``), then ``relu(z)`` in place where a ReLU follows.  Returns
        ``(K, outputs, B)``."""
        for layer in self.layers if layers is None else layers:
            h = torch.baddbmm(self.params[layer.bias].unsqueeze(2), self.params[layer.weight], h)
            if layer.relu:
                h = h.relu_()  # in place on the fresh matmul output: no new tensor
        return h

    # training: workspace buffers, no autograd for the layers

    def loss_and_grads(
        self,
        x: torch.Tensor,
        loss: Callable[[torch.Tensor], torch.Tensor],
        sizes: tuple[int, ...],
        accumulate: Accumulate | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Outputs, losses and gradients as :meth:`StackedModel.loss_and_grads` documents them,
        for ``x`` ``(G, B, *input_shape)`` with ``sizes`` members per minibatch (already checked).

        With ``accumulate=(buffers, beta)`` each gradient lands in ``buffers[name]`` as
        ``beta * buffers[name] + grad``.
        """
        buffers, beta = accumulate if accumulate is not None else ({}, 0.0)
        groups = sizes if len(sizes) < self.size else None
        with torch.no_grad():
            rows = x.reshape(x.shape[0], x.shape[1], -1)  # (G, B, d)
            inputs, z = self._forward_saving(rows, groups)
        out, losses, g = _output_grad(z, loss)
        with torch.no_grad():
            self._backward(g, rows, inputs, groups, buffers, beta)
        return out.detach(), losses.detach(), self._gradients(buffers)

    def _forward_saving(
        self, rows: torch.Tensor, groups: tuple[int, ...] | None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``(inputs, z)``: every layer's feature-major input (the first one's is ``rows^T``
        ``(G, d, B)``, the others ``(K, in, B)``, the ReLU outputs the backward masks with) and the
        last layer's output ``z`` ``(K, outputs, B)``, all in workspace buffers."""
        h = rows.transpose(1, 2)  # feature-major (G, d, B)
        inputs = []
        for position, layer in enumerate(self.layers):
            inputs.append(h)
            if position == 0 and groups is not None:
                h = self._first_layer_grouped(h, groups)
            else:
                h = self._layer(layer, h)
            if layer.relu:
                h = h.relu_()  # in place on the Linear's output: the same clamp kernel
        return inputs, h

    def _z_buffer(self, layer: Layer, batch: int) -> torch.Tensor:
        """The workspace buffer of ``layer``'s output ``(K, out, B)``."""
        w = self.params[layer.weight]
        return self.workspace(("z", layer.index), (w.shape[0], w.shape[1], batch))

    def _layer(self, layer: Layer, h: torch.Tensor) -> torch.Tensor:
        """``z = W h^T + b`` ``(K, out, B)`` for ``h^T`` ``(K, in, B)`` (one ``baddbmm``)."""
        w, b = self.params[layer.weight], self.params[layer.bias]
        return torch.baddbmm(b.unsqueeze(2), w, h, out=self._z_buffer(layer, h.shape[2]))

    def _first_layer_grouped(self, xt: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
        """The first layer's ``z`` ``(K, out, B)`` from one minibatch per group, ``xt`` ``(G, d, B)``:
        for group g's m members ``z_g = W_g x_g^T + b_g`` as one ``(m*out, d) @ (d, B)`` matmul."""
        layer = self.layers[0]
        z = self._z_buffer(layer, xt.shape[2])
        views = zip(
            self.group_views(self.params[layer.bias], sizes),
            self.group_views(self.params[layer.weight], sizes),
            xt.unbind(0),
            self.group_views(z, sizes),
            strict=True,
        )
        for bias, weight, x_group, dst in views:
            torch.addmm(bias, weight, x_group, out=dst)
        return z

    def _backward(
        self,
        g: torch.Tensor,
        rows: torch.Tensor,
        inputs: list[torch.Tensor],
        groups: tuple[int, ...] | None,
        buffers: Mapping[str, torch.Tensor],
        beta: float,
    ) -> None:
        """From the last layer to the first: its weight and bias gradients (into ``buffers`` with
        momentum ``beta``, or the workspace), then ``g`` for the layer below; the first layer's
        input (the minibatch ``rows`` ``(G, B, d)``) gets no gradient."""
        for position in range(len(self.layers) - 1, -1, -1):
            layer, h = self.layers[position], inputs[position]
            if position == 0 and groups is not None:
                self._weight_grad_grouped(g, rows, groups, buffers, beta)
            else:
                self._weight_grad(layer, g, h, buffers, beta)
            self._bias_grad(layer, g, buffers, beta)
            if position > 0:
                g = self._input_grad(layer, g, h, relu=self.layers[position - 1].relu)

    def _weight_grad_buffer(
        self, layer: Layer, buffers: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Where ``layer``'s weight gradient ``(K, out, in)`` goes: its momentum buffer, if any."""
        dw = buffers.get(layer.weight)
        if dw is None:
            dw = self.workspace(("dw", layer.index), self.params[layer.weight].shape)
        return dw

    def _weight_grad(
        self,
        layer: Layer,
        g: torch.Tensor,
        h: torch.Tensor,
        buffers: Mapping[str, torch.Tensor],
        beta: float,
    ) -> None:
        """``dW = beta * dW + g h`` ``(K, out, in)`` for ``g`` ``(K, out, B)`` and the layer's input
        ``h^T`` ``(K, in, B)`` (one ``baddbmm``; ``beta == 0`` ignores the old contents)."""
        dw = self._weight_grad_buffer(layer, buffers)
        torch.baddbmm(dw, g, h.transpose(1, 2), beta=beta, out=dw)

    def _weight_grad_grouped(
        self,
        g: torch.Tensor,
        rows: torch.Tensor,
        sizes: tuple[int, ...],
        buffers: Mapping[str, torch.Tensor],
        beta: float,
    ) -> None:
        """The first layer's ``dW``, one matmul per group: for group g's m members
        ``dW_g = beta * dW_g + g_g x_g`` as ``(m*out, B) @ (B, d)``, with ``x_g`` ``rows[g]``."""
        dw = self._weight_grad_buffer(self.layers[0], buffers)
        views = zip(
            self.group_views(dw, sizes),
            # g is a workspace buffer unless the model has no hidden layer
            self.group_views(g, sizes, cache=len(self.layers) > 1),
            rows.unbind(0),
            strict=True,
        )
        for dst, grad, x_group in views:
            torch.addmm(dst, grad, x_group, beta=beta, out=dst)

    def _bias_grad(
        self, layer: Layer, g: torch.Tensor, buffers: Mapping[str, torch.Tensor], beta: float
    ) -> None:
        """``db = sum_B g`` ``(K, out, 1)`` in the workspace; with a momentum buffer also
        ``buf = db + beta * buf`` ``(K, out)``."""
        db = torch.sum(
            g, 2, keepdim=True, out=self.workspace(("db", layer.index), (*g.shape[:2], 1))
        )
        bias_buffer = buffers.get(layer.bias)
        if bias_buffer is not None:
            torch.add(db.squeeze(2), bias_buffer, alpha=beta, out=bias_buffer)

    def _input_grad(
        self, layer: Layer, g: torch.Tensor, h: torch.Tensor, *, relu: bool
    ) -> torch.Tensor:
        """The ``g`` of the layer below: ``dh^T = W^T g`` ``(K, in, B)``, masked by ``h^T > 0``
        where a ReLU made the input ``h^T`` (in place: one 4 B/element buffer less in the cache)."""
        w = self.params[layer.weight]
        dh = torch.bmm(w.transpose(1, 2), g, out=self.workspace(("dh", layer.index), h.shape))
        if not relu:
            return dh
        return torch.ops.aten.threshold_backward.grad_input(dh, h, 0, grad_input=dh)

    def _gradients(self, buffers: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """The gradients in ``params`` order: a parameter's momentum buffer if it has one, else
        its workspace buffer (weights ``(K, out, in)``, biases ``(K, out)``)."""
        grads = []
        for key, p in self.params.items():
            index, kind = key.split(".")
            if key in buffers:
                grads.append(buffers[key])
            elif kind == "weight":
                grads.append(self.workspace(("dw", int(index)), p.shape))
            else:
                grads.append(self.workspace(("db", int(index)), (*p.shape, 1)).squeeze(2))
        return grads
