"""Which engine trains a group of runs on the user's model, and why.

``engine="auto"`` (the default) picks the *stacked* engine (:mod:`schedlab.lab.train.stacked`)
when it can and says why not otherwise, picking the *per-run* engine
(:mod:`schedlab.lab.train.perrun`):

- the training split is not in memory (a dataset with random transforms, a loader factory);
- a single run (nothing to stack);
- the model does not run under ``torch.func.vmap`` (tried on two members and two samples: the
  first line of the error is given);
- K stacked copies of the model, its gradients and optimizer state would not fit in memory;
- on the CPU, stacking is measured slower: one epoch of :data:`CALIBRATION_STEPS` optimizer
  steps of the K runs stacked takes longer than K such epochs of the plain loop (the shortest
  of a few timed epochs after a warm-up one, on the first samples of the training split; a
  second or two at most for a large model, milliseconds for a small one).  A
  compute-bound model (a convolutional network on a CPU) gains nothing from stacking there and
  loses to ``vmap``'s batching rules (BENCHMARKS.md); on a GPU stacking is taken without timing.

``engine="stacked"`` insists (and fails with the reason); ``engine="per-run"`` always runs the
plain loop.  The per-run engine runs ``workers`` runs at a time in worker processes (default: one
per CPU core, at most the group's size; 1 on CUDA, and 1 where stacking was timed slower: the
plain loop in this process, with all its threads, is what was timed faster).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from schedlab.errors import ConfigError
from schedlab.lab.train.config import Member
from schedlab.lab.train.devices import torch_device

if TYPE_CHECKING:
    from schedlab.lab.train.task import UserTask

#: the stacked engine is refused when its estimate exceeds this fraction of the free memory
MEMORY_FRACTION = 0.5
#: optimizer steps per timed epoch when ``auto`` measures the two engines on the CPU; timed
#: epochs per engine (the shortest counts), unless one engine's timing has taken this many seconds
CALIBRATION_STEPS, CALIBRATION_REPEATS, CALIBRATION_SECONDS = 2, 3, 1.0


def _free_memory(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _why_not_stacked(task: UserTask, members: Sequence[Member], device: torch.device) -> str | None:
    """The reason the stacked engine cannot train ``members``, or ``None`` if it can."""
    if not task.train.in_memory:
        return task.train.why_not_tensors
    if not task.val.in_memory:
        return task.val.why_not_tensors
    if len(members) < 2:
        return "a single run"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = task.model()
    size = sum(t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()])
    free = _free_memory(device)
    need = 4 * size * len(members)  # weights, gradients, two slots of optimizer state
    if free is not None and need > MEMORY_FRACTION * free:
        return (
            f"{len(members)} stacked copies need about {need / 2**20:.0f} MiB, more than half "
            f"the free memory ({free / 2**20:.0f} MiB)"
        )
    return None


def _probe_vmap(
    task: UserTask, members: Sequence[Member], device: torch.device
) -> tuple[str, str | None]:
    """Run one training step of two members on two samples under vmap: ``(randomness, None)``
    if it works (``"error"``, or ``"different"`` for models with random layers), or
    ``("", reason)``."""
    from schedlab.lab.train.stacked import StackedTrainer

    probe = dataclasses.replace(task, batch_size=min(2, task.batch_size))
    first_member = members[0]
    pair = [first_member, Member(first_member.schedule, first_member.seed + 1)]
    last: Exception | None = None
    for randomness in ("error", "different"):
        try:
            trainer = StackedTrainer(probe, pair, device=device, randomness=randomness)
            x, y = task.train.x[:2].to(device), task.train.y[:2].to(device)  # type: ignore[index]
            xs, ys = x.unsqueeze(0).expand(2, *x.shape), y.unsqueeze(0).expand(2, *y.shape)
            with torch.random.fork_rng(devices=[]):
                trainer._step(trainer.params, trainer.buffers, xs, ys)
                trainer.template.eval()
                trainer._eval(trainer.params, trainer.buffers, x)
            return randomness, None
        except Exception as err:  # any failure means: not vmappable as written
            last = err
            if randomness == "error" and "randomness" in str(err):
                continue
            break
    first = str(last).strip().splitlines()[0] if last is not None and str(last).strip() else ""
    return (
        "",
        f"the model does not run under torch.func.vmap ({type(last).__name__}: {first[:160]})",
    )


def _subset(task: UserTask, steps: int) -> UserTask:
    """``task`` on the first ``steps`` batches of its training split and one batch of its
    validation split."""
    n = steps * task.batch_size
    train = dataclasses.replace(task.train, x=task.train.x[:n], y=task.train.y[:n])  # type: ignore[index]
    val = dataclasses.replace(
        task.val, x=task.val.x[: task.batch_size], y=task.val.y[: task.batch_size]
    )  # type: ignore[index]
    return dataclasses.replace(task, train=train, val=val)


def _epoch_seconds(epoch: Any) -> float:
    """The shortest of up to :data:`CALIBRATION_REPEATS` timed calls of ``epoch`` after one
    warm-up call, fewer once :data:`CALIBRATION_SECONDS` are spent."""
    start = time.perf_counter()
    epoch()
    best = math.inf
    for _ in range(CALIBRATION_REPEATS):
        t = time.perf_counter()
        epoch()
        best = min(best, time.perf_counter() - t)
        if time.perf_counter() - start > CALIBRATION_SECONDS:
            break
    return best


def _why_not_faster(
    task: UserTask, members: Sequence[Member], device: torch.device, randomness: str
) -> str | None:
    """On the CPU: the reason to train per run when stacking is measured slower (see the module
    docstring), else ``None``."""
    from schedlab.lab.train.single import SingleRun
    from schedlab.lab.train.stacked import StackedTrainer

    if device.type != "cpu" or len(task.train) < CALIBRATION_STEPS * task.batch_size:
        return None
    small = _subset(task, CALIBRATION_STEPS)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the rate checks of a throwaway scheduler
        stacked = StackedTrainer(small, members, device=device, randomness=randomness)
        t_stacked = _epoch_seconds(stacked.run_epoch)
        del stacked
        alone = SingleRun(small, members[0], 0, device=device)
        t_alone = _epoch_seconds(alone.train_epoch)
    k = len(members)
    if t_stacked <= k * t_alone:
        return None
    return (
        f"stacking measured slower on this CPU: {CALIBRATION_STEPS} steps of the {k} runs "
        f"stacked took {1e3 * t_stacked:.0f} ms, of the plain loop {k} x {1e3 * t_alone:.0f} ms"
    )


def make_trainer(
    task: UserTask,
    members: Sequence[Member],
    *,
    device: str | torch.device = "cpu",
    states: Sequence[dict | None] | None = None,
) -> Any:
    """The trainer of ``members`` for ``task.engine`` (see the module docstring)."""
    from schedlab.lab.train.perrun import PerRunTrainer
    from schedlab.lab.train.stacked import StackedTrainer

    dev = torch_device(device)
    reason = None if task.engine == "per-run" else _why_not_stacked(task, members, dev)
    randomness = "error"
    if reason is None and task.engine != "per-run":
        randomness, reason = _probe_vmap(task, members, dev)
    measured = False  # per run because stacking was timed slower: in this process, as timed
    if reason is None and task.engine == "auto":
        reason = _why_not_faster(task, members, dev, randomness)
        measured = reason is not None
    if task.engine == "stacked" and reason is not None:
        raise ConfigError(f"engine 'stacked' cannot train this model: {reason}")
    if reason is None and task.engine != "per-run":
        trainer = StackedTrainer(task, members, device=dev, states=states, randomness=randomness)
        if randomness == "different":
            trainer.engine += "; random layers draw independently per run"
        return trainer
    if task.engine == "per-run":
        reason = "engine='per-run'"
    else:
        warnings.warn(f"schedlab: the per-run engine trains this group: {reason}", stacklevel=2)
    workers = task.workers or (1 if dev.type == "cuda" or measured else os.cpu_count() or 1)
    return PerRunTrainer(
        task, members, device=dev, states=states, workers=min(workers, len(members)),
        reason=reason or "",
    )  # fmt: skip
