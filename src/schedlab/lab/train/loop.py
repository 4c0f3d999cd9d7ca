"""The parts of one run's training loop on the user's model that every engine shares.

- :func:`make_scheduler`: the ``ScheduleLR`` (or ``PlateauLR``) that drives a run's optimizer;
- :class:`Meter`: the training loss and accuracy of an epoch, sample-weighted over its batches;
- :func:`evaluate_outputs`: validation loss, accuracy and the user's metrics from model outputs;
- :func:`member_state` / :func:`check_member_state`: the checkpoint of one run, the same for every
  engine (a stacked run resumes in the per-run engine and the reverse).

Units: the schedule's ``t`` counts epochs (``unit="epoch"``, the rate constant within an epoch) or
optimizer steps (``unit="step"``, global, 0-based); ``steps_per_epoch`` converts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from schedlab.errors import ConfigError
from schedlab.lab.train.config import Member
from schedlab.lab.train.records import EpochRecord
from schedlab.schedules.plateau import Plateau, policy_from_spec

if TYPE_CHECKING:
    from schedlab.lab.train.task import UserTask

STATE_FORMAT = "schedlab.run"
STATE_VERSION = 1


def first_rate(spec: Any) -> float:
    """The rate a policy starts at (the optimizer is built with it, as a user would)."""
    policy = policy_from_spec(spec)
    return float(policy.lr if isinstance(policy, Plateau) else policy(0))


def make_optimizer(task: UserTask, member: Member, params: Any) -> torch.optim.Optimizer:
    """The optimizer of a run over ``params``: the task's class and kwargs, at the schedule's first
    rate; for a ``schedule_free(...)`` member its schedule-free counterpart
    (:func:`schedlab.lab.train.schedule_free.optimizer_for`)."""
    from schedlab.lab.train.schedule_free import optimizer_for

    cls, kwargs = optimizer_for(task.optimizer, task.optimizer_kwargs, member.schedule)
    return cls(params, lr=first_rate(member.schedule), **kwargs)


def make_scheduler(optimizer: torch.optim.Optimizer, spec: Any, unit: str, steps_per_epoch: int):
    """The scheduler of a run: ``ScheduleLR(optimizer, spec, interval="step", unit=unit,
    steps_per_epoch=...)`` for a schedule, ``PlateauLR(optimizer, spec)`` for a plateau."""
    from schedlab.adapters.torch import PlateauLR, ScheduleLR

    policy = policy_from_spec(spec)
    if isinstance(policy, Plateau):
        return PlateauLR(optimizer, policy)
    return ScheduleLR(
        optimizer, policy, interval="step", unit=unit,
        steps_per_epoch=steps_per_epoch if unit == "epoch" else None,
    )  # fmt: skip


def is_plateau(scheduler: Any) -> bool:
    from schedlab.adapters.torch import PlateauLR

    return isinstance(scheduler, PlateauLR)


def after_step(scheduler: Any) -> None:
    """What the loop does after each optimizer step: a schedule advances one step; a plateau
    advances its per-step warmup (if it has one) and otherwise waits for the epoch's metric."""
    if not is_plateau(scheduler):
        scheduler.step()
        return
    plateau = scheduler._plateaus[0]
    if plateau.spec()["warmup_unit"] == "step" and plateau.warming_up:
        scheduler.step()


def after_epoch(scheduler: Any, val_loss: float) -> None:
    """What the loop does after each epoch's evaluation: a plateau sees the validation loss."""
    if is_plateau(scheduler) and math.isfinite(val_loss):
        scheduler.step(val_loss)


def current_rate(optimizer: torch.optim.Optimizer) -> float:
    """The rate the next step will use (the first parameter group's, as a float)."""
    lr = optimizer.param_groups[0]["lr"]
    return float(lr.item() if isinstance(lr, torch.Tensor) else lr)


class Meter:
    """Sample-weighted sums of per-batch training losses and correct predictions of one run."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.correct = 0
        self.samples = 0

    def add(self, loss: float, n: int, correct: int = 0) -> None:
        self.loss += float(loss) * n
        self.correct += int(correct)
        self.samples += n

    def result(self) -> tuple[float, float]:
        """(mean loss, accuracy) over the samples seen."""
        n = max(self.samples, 1)
        return self.loss / n, self.correct / n


def correct(out: torch.Tensor, y: torch.Tensor) -> int:
    """Correct top-1 predictions of classification outputs ``(B, classes)`` against ``y``."""
    return int((out.argmax(dim=-1) == y).sum())


class Evaluation:
    """Validation sums of one run over batches: loss, accuracy and the user's metrics (each a
    per-batch mean, weighted by the batch's size)."""

    def __init__(self, metrics: Mapping[str, Callable]) -> None:
        self.metrics = metrics
        self.loss = 0.0
        self.correct = 0
        self.samples = 0
        self.extra = dict.fromkeys(metrics, 0.0)

    def add(self, task: UserTask, out: torch.Tensor, y: torch.Tensor) -> None:
        n = len(y)
        self.loss += float(task.loss(out, y)) * n
        if task.classification:
            self.correct += correct(out, y)
        for name, fn in self.metrics.items():
            self.extra[name] += float(fn(out, y)) * n
        self.samples += n

    def result(self) -> tuple[float, float | None, dict[str, float]]:
        n = max(self.samples, 1)
        acc = self.correct / n
        return self.loss / n, acc, {f"val_{k}": v / n for k, v in self.extra.items()}


def record(
    task: UserTask,
    index: int,
    epoch: int,
    train: tuple[float, float],
    val: tuple[float, float | None, dict[str, float]],
    step_lrs: Sequence[float],
    diverged: bool,
    seconds: float,
) -> EpochRecord:
    """One run's :class:`EpochRecord` (NaN metrics once diverged; accuracies ``None`` for
    regression)."""
    nan = math.nan
    classification = task.classification
    train_loss, train_acc = train
    val_loss, val_acc, extra = val
    if diverged:
        train_loss = val_loss = nan
        train_acc = val_acc = nan
        extra = {k: nan for k in extra}
    return EpochRecord(
        member=index,
        epoch=epoch,
        train_loss=float(train_loss),
        train_acc=float(train_acc) if classification else None,
        val_loss=float(val_loss),
        val_acc=float(val_acc) if classification else None,  # type: ignore[arg-type]
        lr=float(step_lrs[-1]) if len(step_lrs) else nan,
        step_lrs=np.asarray(step_lrs, dtype=np.float64),
        diverged=diverged,
        seconds=seconds,
        extra=extra,
    )


def member_state(
    member: Member,
    epoch: int,
    model: Mapping[str, torch.Tensor],
    optimizer: Mapping[str, Any],
    scheduler: Mapping[str, Any],
    data_rng: torch.Tensor,
    torch_rng: torch.Tensor | None,
    diverged: bool,
) -> dict:
    """The checkpoint of one run (CPU tensors; ``torch.save``-able), the same for every engine:
    ``model`` is the single model's ``state_dict``, ``optimizer`` the state dict of its optimizer
    over ``net.parameters()``, ``scheduler`` that of its ScheduleLR/PlateauLR, ``data_rng`` the
    data-order generator's state, ``torch_rng`` torch's global RNG state of the run (per-run
    engine; ``None`` where the engine does not keep one)."""
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "epoch": epoch,
        "seed": member.seed,
        "schedule": member.schedule,
        "model": {k: v.detach().cpu().clone() for k, v in model.items()},
        "optimizer": _cpu(optimizer),
        "scheduler": dict(scheduler),
        "data_rng": data_rng,
        "torch_rng": torch_rng,
        "diverged": bool(diverged),
    }


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, Mapping):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    return value


def check_member_state(i: int, state: Any, member: Member) -> dict:
    """``state`` if it is a checkpoint of ``member`` (:class:`ConfigError` naming the index
    otherwise)."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ConfigError(f"states[{i}] must be a run checkpoint ({STATE_FORMAT})")
    if state.get("version") != STATE_VERSION:
        raise ConfigError(
            f"states[{i}]: version must be {STATE_VERSION}; got {state.get('version')!r}"
        )
    if state.get("seed") != member.seed:
        raise ConfigError(f"states[{i}]: seed must be {member.seed}; got {state.get('seed')!r}")
    return state


def same_epoch(states: Sequence[dict | None]) -> int:
    """The epoch every restored member is at (0 without states); :class:`ConfigError` if they
    differ or fresh members would join restored ones past epoch 0."""
    epochs = {s["epoch"] for s in states if s is not None}
    if not epochs:
        return 0
    if len(epochs) > 1:
        raise ConfigError(f"states: all restored members must be at the same epoch; got {epochs}")
    epoch = epochs.pop()
    if epoch > 0 and any(s is None for s in states):
        raise ConfigError(
            f"states: some members have no state but the others are at epoch {epoch}; fresh "
            "members can join only at epoch 0"
        )
    return epoch


def with_schedule(state: dict, schedule: Any, unit: str, steps_per_epoch: int) -> dict:
    """Checkpoint ``state`` of one run as the checkpoint of a run with ``schedule`` instead, for a
    run that shares every rate of the past with it (a fork: same weights, optimizer state and
    data order; from now on ``schedule``'s rates).  A user-model checkpoint gets ``schedule``'s
    ``ScheduleLR`` configuration and keeps its counter; the built-in trainer's holds no schedule
    and is returned as it is."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return state
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=first_rate(schedule))
    config = make_scheduler(probe, schedule, unit, steps_per_epoch).state_dict()["config"]
    return {**state, "schedule": schedule, "scheduler": {**state["scheduler"], "config": config}}
