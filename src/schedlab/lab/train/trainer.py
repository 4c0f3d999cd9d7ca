"""Train K members (schedule x seed) at once as one stacked model.

Each member has its own initialisation (``torch.manual_seed(seed)`` before building the single
model), its own data order (what ``DataLoader(shuffle=True,
generator=torch.Generator().manual_seed(seed))`` yields, epoch after epoch) and its own rate at every
step (see :mod:`schedlab.lab.train.rates`).  All members step together: one gather of their minibatches
with one index tensor, one batched forward and backward, one batched optimizer update
(:mod:`schedlab.lab.train.optim`), one batched evaluation.  The result for each member equals training it
alone with a plain torch loop, up to float32 rounding.

Members with the same seed see the same samples in the same order, so consecutive members with
equal seeds form a *group* that shares one gathered minibatch per step, and the all-linear models
run their first layer (most of the work) as one matmul per group; order members seed by seed (as
:func:`schedlab.lab.sweeps.groups.pending_groups` does) to get the most out of it.

A member whose minibatch loss becomes NaN or infinite is *diverged*: its weights stay as they were
before that step and its later metrics are NaN; the other members go on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from schedlab.errors import ConfigError
from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.devices import torch_device
from schedlab.lab.train.losses import member_loss
from schedlab.lab.train.models import StackedModel
from schedlab.lab.train.optim import make_optimizer
from schedlab.lab.train.rates import epoch_rates, make_policies, observe
from schedlab.lab.train.records import EpochRecord
from schedlab.schedules.plateau import Plateau

if TYPE_CHECKING:
    from schedlab.lab.data.datasets import Dataset

STATE_FORMAT = "schedlab.member"
STATE_VERSION = 1

#: Evaluation processes about this many (member x sample) rows at a time, LINEAR_EVAL_FACTOR times
#: as many for the all-linear models (small activations; bigger matmuls run closer to peak rate).
EVAL_ROWS = 4096
LINEAR_EVAL_FACTOR = 16


def _check_task(config: TrainConfig, dataset: Any) -> None:
    task = getattr(dataset, "task", None)
    want = "mse" if task == "regression" else "cross_entropy"
    if task not in ("classification", "regression"):
        raise ConfigError(f"dataset.task must be 'classification' or 'regression'; got {task!r}")
    if config.loss != want:
        raise ConfigError(
            f"TrainConfig: loss must be {want!r} for a {task} dataset ({dataset.name!r}); "
            f"got loss={config.loss!r}"
        )


class BatchedTrainer:
    """Trains ``members`` under ``config`` on ``dataset`` simultaneously as ONE stacked model.

    Args:
        config: shared training settings (model, optimizer, batch size, schedule unit).
        dataset: a :class:`schedlab.lab.data.datasets.Dataset` (numpy arrays, already normalised).
        members: one :class:`Member` (schedule spec, seed) per model.
        device: ``"cpu"`` (default) or ``"cuda"``/``"cuda:N"``.
        states: optional ``member_state`` payloads, ``states[i]`` restoring member i (``None``:
            fresh). All restored members must be at the same epoch, and fresh members can join only
            at epoch 0.

    Torch's thread count is left as it is (``torch.set_num_threads`` is the caller's choice).
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: Dataset,
        members: Sequence[Member],
        *,
        device: str = "cpu",
        states: Sequence[dict | None] | None = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise ConfigError(f"config must be a TrainConfig; got {type(config).__name__}")
        members = list(members)
        if not members or not all(isinstance(m, Member) for m in members):
            raise ConfigError(
                f"members must be a non-empty sequence of Member; got {members!r:.200}"
            )
        _check_task(config, dataset)
        self.config = config
        self.engine = "stacked (built-in batched model)"
        self.members = tuple(members)
        self.device = torch_device(device)
        self._classification = dataset.task == "classification"
        self._x_train, self._y_train = self._tensors(dataset.x_train, dataset.y_train)
        self._x_val, self._y_val = self._tensors(dataset.x_val, dataset.y_val)
        if len(self._x_train) == 0:
            raise ConfigError(f"dataset {dataset.name!r} has an empty training split")
        self.steps_per_epoch = math.ceil(len(self._x_train) / config.batch_size)
        self.policies = make_policies([m.schedule for m in members])
        self.model = StackedModel(
            config.model,
            dataset.input_shape,
            dataset.num_classes,
            [m.seed for m in members],
            self.device,
        )
        self._params = list(self.model.params.values())
        self.optimizer = make_optimizer(
            config.optimizer,
            self.model.params,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        starts = [
            i for i in range(len(members)) if i == 0 or members[i].seed != members[i - 1].seed
        ]
        #: sizes of the runs of consecutive members with one seed, and each member's run
        self._group_sizes = tuple(np.diff([*starts, len(members)]).tolist())
        self._group_of = np.repeat(np.arange(len(starts)), self._group_sizes)
        self._member_rows = torch.as_tensor(self._group_of, device=self.device)
        self._generators = [torch.Generator().manual_seed(members[i].seed) for i in starts]
        self._diverged = np.zeros(len(members), dtype=bool)
        self._epoch = 0
        if states is not None:
            self._restore(list(states))

    # -- data ----------------------------------------------------------------------------------
    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=self.device)
        ydtype = np.int64 if self._classification else np.float32
        yt = torch.as_tensor(np.ascontiguousarray(y, dtype=ydtype), device=self.device)
        return xt, yt

    def _orders(self) -> torch.Tensor:
        """(G, n) sample order of this epoch per group, drawn as a seeded DataLoader draws it.

        Per epoch a ``DataLoader(shuffle=True, generator=g)`` takes one int64 from ``g`` (its
        iterator's base seed), then ``RandomSampler`` yields ``randperm(n, g)`` and, when run to
        exhaustion, draws one more ``randperm(n, g)`` of which it yields nothing.
        """
        n = len(self._x_train)
        rows = []
        for g in self._generators:
            torch.empty((), dtype=torch.int64).random_(generator=g)
            rows.append(torch.randperm(n, generator=g))
            torch.randperm(n, generator=g)
        return torch.stack(rows).to(self.device)

    def _gather_buffer(self, buffers: dict[int, torch.Tensor], rows: int) -> torch.Tensor:
        """A reused ``(rows, *sample_shape)`` tensor for the gathered minibatches (a fresh
        multi-MiB tensor every step costs page faults)."""
        if rows not in buffers:
            buffers[rows] = self._x_train.new_empty((rows, *self._x_train.shape[1:]))
        return buffers[rows]

    # -- training ------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The next epoch to run (0-based)."""
        return self._epoch

    @property
    def diverged(self) -> np.ndarray:
        """bool (K,): members frozen after a non-finite loss."""
        return self._diverged.copy()

    def run(self, epochs: int | None = None) -> list[list[EpochRecord]]:
        """Run ``epochs`` more epochs (default: up to ``config.epochs``); one list per epoch."""
        count = self.config.epochs - self._epoch if epochs is None else epochs
        return [self.run_epoch() for _ in range(max(count, 0))]

    def run_epoch(self) -> list[EpochRecord]:
        """Train every member for one epoch, then evaluate; one record per member, in order."""
        start = time.perf_counter()
        k, batch = len(self.members), self.config.batch_size
        groups = len(self._group_sizes)
        rates = epoch_rates(self.policies, self._epoch, self.steps_per_epoch, self.config.unit)
        lr_steps = torch.as_tensor(rates, device=self.device)
        order = self._orders()
        # every member's labels in its epoch order, (K, n): a step takes a view of B columns
        labels = self._y_train[order]
        if groups < k:
            labels = labels.index_select(0, self._member_rows)
        all_alive = self.device.type == "cpu" and not self._diverged.any()
        active = torch.as_tensor(~self._diverged, device=self.device)
        loss_sum = torch.zeros(k, dtype=torch.float64, device=self.device)
        correct = torch.zeros(k, dtype=torch.int64, device=self.device)
        sample_shape = self._x_train.shape[1:]
        x_bufs: dict[int, torch.Tensor] = {}
        # SGD with momentum: the model accumulates its gradients into the momentum buffers
        sink = self.optimizer.accumulation_target()
        for s in range(self.steps_per_epoch):
            idx = order[:, s * batch : (s + 1) * batch]
            b = idx.shape[1]
            flat = idx.reshape(-1)
            x = torch.index_select(
                self._x_train, 0, flat, out=self._gather_buffer(x_bufs, groups * b)
            ).view(groups, b, *sample_shape)
            y = labels[:, s * batch : s * batch + b]
            out, losses, grads = self.model.loss_and_grads(
                x, member_loss(y, self._classification), self._group_sizes, accumulate=sink
            )
            # on CPU the check is free and saves masking every gradient; on CUDA it would sync.
            # A sum of losses is finite only if every loss is (an overflow just takes the long way)
            if all_alive and math.isfinite(losses.sum().item()):
                mask = None
            else:
                active &= torch.isfinite(losses)
                all_alive = self.device.type == "cpu" and bool(active.all())
                mask = None if all_alive else active
            if sink is None:
                self.optimizer.step(grads, lr_steps[s], mask)
            else:
                self.optimizer.step_accumulated(lr_steps[s], mask)
            loss_sum += losses.double() * b
            if self._classification:
                correct += (out.argmax(dim=-1) == y).sum(dim=1)
        n = len(self._x_train)
        train_loss = (loss_sum / n).cpu().numpy()
        train_acc = (correct.double() / n).cpu().numpy()
        self._diverged = ~active.cpu().numpy()
        val_loss, val_acc = self.evaluate(self._x_val, self._y_val)
        observe(self.policies, val_loss, ~self._diverged)
        seconds = time.perf_counter() - start
        records = [
            self._record(
                i, train_loss[i], train_acc[i], val_loss[i], val_acc[i], rates[:, i], seconds
            )
            for i in range(k)
        ]
        self._epoch += 1
        return records

    def _record(
        self,
        i: int,
        train_loss: float,
        train_acc: float,
        val_loss: float,
        val_acc: float,
        step_lrs: np.ndarray,
        seconds: float,
    ) -> EpochRecord:
        dead = bool(self._diverged[i])
        nan = math.nan

        def acc(value: float) -> float | None:
            return (nan if dead else float(value)) if self._classification else None

        return EpochRecord(
            member=i,
            epoch=self._epoch,
            train_loss=nan if dead else float(train_loss),
            train_acc=acc(train_acc),
            val_loss=nan if dead else float(val_loss),
            val_acc=acc(val_acc),
            lr=float(step_lrs[-1]),
            step_lrs=step_lrs.copy(),
            diverged=dead,
            seconds=seconds,
        )

    @torch.inference_mode()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Mean loss and accuracy (float64 (K,) each; accuracy NaN for regression) of every member
        on the same samples ``x``/``y`` (tensors on the trainer's device), in batched chunks."""
        k, n = len(self.members), len(x)
        loss_sum = torch.zeros(k, dtype=torch.float64, device=self.device)
        correct = torch.zeros(k, dtype=torch.int64, device=self.device)
        rows = EVAL_ROWS * (LINEAR_EVAL_FACTOR if self.model.all_linear else 1)
        chunk = max(1, rows // k)
        for lo in range(0, n, chunk):
            xb, yb = x[lo : lo + chunk], y[lo : lo + chunk]
            yk = yb.unsqueeze(0).expand(k, -1)
            loss = member_loss(yk, self._classification)
            if self._classification:  # log_softmax over the classes of (K, classes, B) logits
                z = self.model.forward_shared(xb, feature_major=True)
                loss_sum += loss.value(z).double() * len(yb)
                out = z.transpose(1, 2).contiguous()  # small: argmax reads it fast
                correct += (out.argmax(dim=-1) == yk).sum(dim=1)
            else:
                loss_sum += loss(self.model.forward_shared(xb)).double() * len(yb)
        if n == 0:
            return np.full(k, math.nan), np.full(k, math.nan)
        acc = (correct.double() / n).cpu().numpy() if self._classification else np.full(k, math.nan)
        return (loss_sum / n).cpu().numpy(), acc

    # -- state ---------------------------------------------------------------------------------
    def member_state(self, i: int) -> dict:
        """Everything needed to continue member ``i`` exactly (``torch.save``-able).

        Keys: ``format``, ``version``, ``epoch`` (next epoch), ``seed``, ``model``, ``optimizer``
        (name), ``weights`` (the single model's ``state_dict``), ``optimizer_state``, ``data_rng``
        (the data-order generator's state), ``policy`` (plateau ``state_dict`` or ``None``),
        ``diverged``.
        """
        if not (isinstance(i, int) and 0 <= i < len(self.members)):
            raise ConfigError(f"member index must be in [0, {len(self.members)}); got {i!r}")
        policy = self.policies[i]
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": self._epoch,
            "seed": self.members[i].seed,
            "model": self.config.model,
            "optimizer": self.config.optimizer,
            "weights": self.model.member_parameters(i),
            "optimizer_state": self.optimizer.member_state(i),
            "data_rng": self._generators[self._group_of[i]].get_state(),
            "policy": policy.state_dict() if isinstance(policy, Plateau) else None,
            "diverged": bool(self._diverged[i]),
        }

    def _restore(self, states: list[dict | None]) -> None:
        if len(states) != len(self.members):
            raise ConfigError(
                f"states must have one entry per member ({len(self.members)}); got {len(states)}"
            )
        restored = {i: s for i, s in enumerate(states) if s is not None}
        if not restored:
            return
        for i, state in restored.items():
            self._check_state(i, state)
        epochs = {state["epoch"] for state in restored.values()}
        if len(epochs) > 1:
            raise ConfigError(
                f"states: all restored members must be at the same epoch; got {epochs}"
            )
        epoch = epochs.pop()
        if epoch > 0 and len(restored) < len(states):
            fresh = [i for i, s in enumerate(states) if s is None]
            raise ConfigError(
                f"states: members {fresh} have no state but the others are at epoch {epoch}; "
                "fresh members can join only at epoch 0"
            )
        rng: dict[int, tuple[int, torch.Tensor]] = {}
        for i, state in restored.items():
            group = int(self._group_of[i])
            first, data_rng = rng.setdefault(group, (i, state["data_rng"]))
            if not torch.equal(data_rng, state["data_rng"]):
                raise ConfigError(
                    f"states[{i}]: data_rng differs from states[{first}]'s; members with one seed "
                    "must be at the same point of their data order"
                )
        for group, (_, data_rng) in rng.items():
            self._generators[group].set_state(data_rng)
        for i, state in restored.items():
            self.model.load_member_parameters(i, state["weights"])
            self.optimizer.load_member_state(i, state["optimizer_state"])
            policy = self.policies[i]
            if isinstance(policy, Plateau):
                policy.load_state_dict(state["policy"])
            self._diverged[i] = bool(state["diverged"])
        self._epoch = epoch

    def _check_state(self, i: int, state: Any) -> None:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ConfigError(f"states[{i}] must be a dict from BatchedTrainer.member_state")
        if state.get("version") != STATE_VERSION:
            raise ConfigError(
                f"states[{i}]: version must be {STATE_VERSION}; got {state.get('version')!r}"
            )
        expected = {
            "seed": self.members[i].seed,
            "model": self.config.model,
            "optimizer": self.config.optimizer,
        }
        for key, want in expected.items():
            if state.get(key) != want:
                raise ConfigError(
                    f"states[{i}]: {key} must be {want!r} (member {i}); got {state.get(key)!r}"
                )
        if (state["policy"] is None) == isinstance(self.policies[i], Plateau):
            raise ConfigError(
                f"states[{i}]: policy state does not match member {i}'s schedule "
                f"{self.members[i].schedule!r}"
            )
