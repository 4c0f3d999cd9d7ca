"""The stacked engine: the K runs of a group as ONE model through ``torch.func``.

The K models (``torch.manual_seed(seed_k); model()``) are stacked with
``torch.func.stack_module_state`` into parameters and buffers with a leading member dimension, and
one ``vmap`` of ``grad_and_value`` over ``functional_call`` runs every member's forward and
backward at once, each on its own minibatch (the order of its seed's ``DataLoader``).  BatchNorm
running statistics are stacked buffers updated in place per member; random layers (dropout) draw
independently per member (``randomness="different"``: not the numbers the plain loop draws).
A tied weight (one tensor under several names, as a language model's output layer and embedding)
is stacked once and passed under every name; a parameter with ``requires_grad=False`` gets no
gradient, so the optimizer skips it, as it does alone.

Each member keeps its own optimizer, an instance of the user's class over *views* of its slice of
the stacked parameters, and its own ``ScheduleLR``/``PlateauLR`` writing its rate there.  For
exactly ``torch.optim.SGD``, ``Adam`` and ``AdamW`` with plain options
(:func:`schedlab.lab.train.batched_optim.supports`) one batched update per parameter over the
stacked tensors steps every member at once, each with the hyperparameters its own optimizer
holds, following torch's single-tensor formulas to float32 tolerance; its state lives in stacked
tensors that the member optimizers hold views of, so their ``state_dict()`` is torch's own.  Any
other optimizer is the user's code stepping each member's tensors.  Either way a member equals
the run trained alone to float32 tolerance.  A member whose loss is not finite stops (it takes no
further step: its weights and optimizer state stay as they were); the others go on.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from schedlab.errors import ConfigError
from schedlab.lab.train import batched_optim, loop
from schedlab.lab.train import schedule_free as free
from schedlab.lab.train.config import Member
from schedlab.lab.train.order import epoch_order
from schedlab.lab.train.records import EpochRecord

if TYPE_CHECKING:
    from schedlab.lab.train.task import UserTask

#: evaluation runs about this many (member x sample) rows at a time
EVAL_ROWS = 4096


def _quiet(fn: Any) -> Any:
    """``fn`` without torch's notes that an operator runs under vmap through its slower generic
    batching rule (attention on the CPU, for one): correct, and said once in the docs."""

    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="There is a performance drop because")
            return fn(*args)

    return call


def build_members(task: UserTask, seeds: Sequence[int], device: torch.device) -> list[Any]:
    """The K single models, each built after ``torch.manual_seed(seed)`` (torch's RNG is left as
    it was)."""
    nets = []
    with torch.random.fork_rng(devices=[]):
        for seed in seeds:
            torch.manual_seed(int(seed))
            nets.append(task.model().to(device))
    return nets


def tied_names(net: torch.nn.Module) -> dict[str, str]:
    """``{alias: name}`` of the parameters and buffers ``net`` holds under several names (tied
    weights: a language model's output layer reusing its embedding matrix); ``name`` is the
    first, the one ``stack_module_state`` stacks it under."""
    first: dict[int, str] = {}
    aliases = {}
    named = [*net.named_parameters(remove_duplicate=False),
             *net.named_buffers(remove_duplicate=False)]  # fmt: skip
    for name, tensor in named:
        source = first.setdefault(id(tensor), name)
        if source != name:
            aliases[name] = source
    return aliases


class StackedTrainer:
    """Trains ``members`` of ``task`` at once as one stacked model (see the module docstring)."""

    def __init__(
        self,
        task: UserTask,
        members: Sequence[Member],
        *,
        device: torch.device,
        states: Sequence[dict | None] | None = None,
        randomness: str = "error",
    ) -> None:
        self.task, self.members, self.device = task, tuple(members), device
        self.engine = f"stacked (torch.func, {len(members)} runs in one model)"
        nets = build_members(task, [m.seed for m in members], device)
        params, buffers = stack_module_state(nets)
        self.params = {k: v.detach() for k, v in params.items()}
        self.buffers = {k: v.detach().clone() for k, v in buffers.items()}
        # moving to "meta" unties tied weights in the template: every functional call passes
        # the stacked tensor under each of its names (see _named)
        self.template = copy.deepcopy(nets[0]).to("meta")
        self._aliases = tied_names(nets[0])
        self._state_keys = list(nets[0].state_dict())
        batchnorm = free.has_batchnorm(nets[0])
        #: parameters with requires_grad=False (a frozen backbone) get no gradient, as alone
        self._trainable = [k for k, p in nets[0].named_parameters() if p.requires_grad]
        del nets
        self.steps_per_epoch = task.steps_per_epoch()
        self.views = [[p[k] for p in self.params.values()] for k in range(len(members))]
        for member_views in self.views:
            for v in member_views:
                v.requires_grad_(True)
        self.optimizers = [
            loop.make_optimizer(task, m, views)
            for views, m in zip(self.views, self.members, strict=True)
        ]
        self._free = [i for i, opt in enumerate(self.optimizers) if free.is_free_optimizer(opt)]
        #: one update per parameter for all members (plain SGD/Adam/AdamW), else None
        self.batched = batched_optim.make(self.optimizers, self.params, self.views, self._trainable)
        self._batchnorm = bool(self._free) and batchnorm
        self.schedulers = [
            loop.make_scheduler(opt, m.schedule, task.unit, self.steps_per_epoch)
            for opt, m in zip(self.optimizers, self.members, strict=True)
        ]
        seeds = [m.seed for m in self.members]
        self._group_seeds = list(dict.fromkeys(seeds))
        self._row = torch.tensor([self._group_seeds.index(s) for s in seeds], device=device)
        self._generators = [torch.Generator().manual_seed(s) for s in self._group_seeds]
        self._diverged = [False] * len(members)
        self._frozen: dict[int, dict[str, torch.Tensor]] = {}  # diverged members' buffers
        self._epoch = 0
        self.randomness = randomness
        self._grads = _quiet(
            vmap(
                grad_and_value(self._loss, has_aux=True), in_dims=(0, 0, 0, 0, 0),
                randomness=randomness,
            )
        )  # fmt: skip
        self._eval = _quiet(vmap(self._forward, in_dims=(0, 0, None), randomness=randomness))
        if states is not None:
            self._restore(list(states))

    # -- the functional model ------------------------------------------------------------------
    def _named(self, *tensors: dict) -> dict:
        """One ``{name: tensor}`` of ``tensors``, each tied tensor under all of its names."""
        named = {k: v for part in tensors for k, v in part.items()}
        named.update({alias: named[name] for alias, name in self._aliases.items()})
        return named

    def _forward(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, self._named(params, buffers), (x,))

    def _loss(self, trainable: dict, frozen: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor):
        out = functional_call(self.template, self._named(trainable, frozen, buffers), (x,))
        return self.task.loss(out, y), out

    def _step(self, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor):
        """``(gradients of the trainable parameters by name, (losses, outputs))`` of every
        member on its own minibatch (``x``, ``y``: ``(K, B, ...)``)."""
        trainable = {k: params[k] for k in self._trainable}
        frozen = {k: v for k, v in params.items() if k not in trainable}
        return self._grads(trainable, frozen, buffers, x, y)

    # -- training ------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The next epoch to run (0-based)."""
        return self._epoch

    def run_epoch(self) -> list[EpochRecord]:
        """Train every member one epoch, then evaluate; one record per member, in order."""
        start = time.perf_counter()
        task, k = self.task, len(self.members)
        split = task.train
        n = len(split)
        orders = torch.stack([epoch_order(g, n) for g in self._generators]).to(self.device)
        meters = [loop.Meter() for _ in range(k)]
        rates: list[list[float]] = [[] for _ in range(k)]
        self.template.train()
        free.train_mode(self.optimizers)
        x_all, y_all = split.x.to(self.device), split.y.to(self.device)  # type: ignore[union-attr]
        for lo in range(0, n, task.batch_size):
            idx = orders[:, lo : lo + task.batch_size].index_select(0, self._row)  # (K, B)
            x, y = x_all[idx], y_all[idx]
            for i, opt in enumerate(self.optimizers):
                rates[i].append(loop.current_rate(opt))
            grads, (losses, out) = self._step(self.params, self.buffers, x, y)
            values = losses.detach().tolist()
            hits = (out.argmax(-1) == y).sum(-1).tolist() if task.classification else [0] * k
            self._keep_frozen_buffers()
            for i in range(k):
                if not self._diverged[i] and not math.isfinite(values[i]):
                    self._diverged[i] = True  # the weights stay as they were before this step
                    self._frozen[i] = {n: b[i].clone() for n, b in self.buffers.items()}
            live = [not d for d in self._diverged]
            if self.batched is None or not self.batched.step(grads, live):
                self._step_each(grads, live)
            for i in range(k):
                if live[i]:
                    meters[i].add(values[i], idx.shape[1], hits[i])
                loop.after_step(self.schedulers[i])
        val = self._evaluate_members()
        seconds = time.perf_counter() - start
        records = []
        for i in range(k):
            loop.after_epoch(self.schedulers[i], val[i][0])
            records.append(
                loop.record(task, i, self._epoch, meters[i].result(), val[i], rates[i],
                            self._diverged[i], seconds)
            )  # fmt: skip
        self._epoch += 1
        return records

    def _step_each(self, grads: dict[str, torch.Tensor], live: Sequence[bool]) -> None:
        """Each live member's own optimizer steps on its slice of the gradients (the path for
        any optimizer the batched step does not cover)."""
        for i, member_views in enumerate(self.views):
            if live[i]:
                for name, v in zip(self.params, member_views, strict=True):
                    if name in grads:
                        v.grad = grads[name][i]
                self.optimizers[i].step()
        if self.batched is not None:
            self.batched.sync()  # a step the batched one could not take (options changed)

    def _evaluate_members(self) -> list[tuple[float, float | None, dict[str, float]]]:
        """:meth:`evaluate`, schedule-free members at their averaged point ``x`` (BatchNorm
        statistics recomputed there), then back at ``y`` for the checkpoint."""
        if not self._free:
            return self.evaluate()
        chosen = [self.optimizers[i] for i in self._free]
        free.eval_mode(chosen)
        try:
            if self._batchnorm:
                self._batchnorm_pass()
            return self.evaluate()
        finally:
            free.train_mode(chosen)

    @torch.no_grad()
    def _batchnorm_pass(self) -> None:
        """The schedule-free members' BatchNorm running statistics, recomputed at the weights of
        now; the other members' statistics are left exactly as they were."""
        others = [i for i in range(len(self.members)) if i not in self._free]
        saved = {k: v[others].clone() for k, v in self.buffers.items()} if others else {}
        self.template.train()
        for x in free.bn_batches(self.task.train, self.task.batch_size):
            self._eval(self.params, self.buffers, x.to(self.device))
        for k, v in saved.items():
            self.buffers[k][others] = v

    @torch.no_grad()
    def _keep_frozen_buffers(self) -> None:
        """Undo what the last forward did to the buffers (BatchNorm statistics) of diverged
        members: alone, a diverged run does not run forward again."""
        for i, buffers in self._frozen.items():
            for name, value in buffers.items():
                self.buffers[name][i].copy_(value)

    @torch.no_grad()
    def evaluate(self) -> list[tuple[float, float | None, dict[str, float]]]:
        """Validation loss, accuracy and metrics of every member (batch means weighted by size;
        batches of ``batch_size`` samples, as the plain loop evaluates)."""
        task, split = self.task, self.task.val
        k = len(self.members)
        evals = [loop.Evaluation(task.metrics) for _ in range(k)]
        self.template.eval()
        x_all, y_all = split.x.to(self.device), split.y.to(self.device)  # type: ignore[union-attr]
        for lo in range(0, len(split), task.batch_size):
            x, y = x_all[lo : lo + task.batch_size], y_all[lo : lo + task.batch_size]
            out = self._eval(self.params, self.buffers, x)
            for i in range(k):
                evals[i].add(task, out[i], y)
        return [e.result() for e in evals]

    # -- state ---------------------------------------------------------------------------------
    def _member_model(self, i: int) -> dict[str, torch.Tensor]:
        tensors = {**{k: v[i] for k, v in self.params.items()},
                   **{k: v[i] for k, v in self.buffers.items()}}  # fmt: skip
        return {key: tensors[self._aliases.get(key, key)] for key in self._state_keys}

    def member_state(self, i: int) -> dict:
        """Member ``i``'s checkpoint, the same as the per-run engine's (no torch RNG state: this
        engine's random draws are not those of the plain loop)."""
        group = self._group_seeds.index(self.members[i].seed)
        return loop.member_state(
            self.members[i], self._epoch, self._member_model(i),
            self.optimizers[i].state_dict(), self.schedulers[i].state_dict(),
            self._generators[group].get_state(), None, self._diverged[i],
        )  # fmt: skip

    def _restore(self, states: list[dict | None]) -> None:
        self._epoch = loop.same_epoch(states)
        rng: dict[int, torch.Tensor] = {}
        for i, state in enumerate(states):
            if state is None:
                continue
            loop.check_member_state(i, state, self.members[i])
            model = state["model"]
            with torch.no_grad():
                for key, tensor in {**self.params, **self.buffers}.items():
                    tensor[i].copy_(model[key])
            self.optimizers[i].load_state_dict(state["optimizer"])
            self.schedulers[i].load_state_dict(state["scheduler"])
            self._diverged[i] = bool(state["diverged"])
            if self._diverged[i]:
                self._frozen[i] = {n: b[i].clone() for n, b in self.buffers.items()}
            group = self._group_seeds.index(self.members[i].seed)
            first = rng.setdefault(group, state["data_rng"])
            if not torch.equal(first, state["data_rng"]):
                raise ConfigError(
                    f"states[{i}]: members with seed {self.members[i].seed} must be at the same "
                    "point of their data order"
                )
        for group, state in rng.items():
            self._generators[group].set_state(state)
        if self.batched is not None:
            self.batched.sync()  # the loaded optimizer state into the stacked tensors
