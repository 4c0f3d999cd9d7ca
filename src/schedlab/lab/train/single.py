"""One run on the user's model trained alone: the plain PyTorch loop (the per-run engine's unit).

This is the loop a user would write (see :mod:`schedlab.lab.train.task` for its exact semantics),
with the run's own torch RNG state kept across epochs (and checkpoints), so dropout draws the
same numbers whether the run trains in one go, resumes, or runs beside other runs.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch

from schedlab.lab.train import loop
from schedlab.lab.train import schedule_free as free
from schedlab.lab.train.config import Member
from schedlab.lab.train.order import epoch_order
from schedlab.lab.train.records import EpochRecord

if TYPE_CHECKING:
    from schedlab.lab.train.task import UserTask


class SingleRun:
    """Run ``member`` of ``task`` on ``device``, from scratch or from checkpoint ``state``."""

    def __init__(
        self,
        task: UserTask,
        member: Member,
        index: int,
        *,
        device: torch.device,
        state: dict | None = None,
    ) -> None:
        self.task, self.member, self.index, self.device = task, member, index, device
        self.steps_per_epoch = task.steps_per_epoch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member.seed)
            self.net = task.model().to(device)
            self.torch_rng = torch.get_rng_state()  # what the plain loop's RNG is at now
        self.optimizer = loop.make_optimizer(task, member, self.net.parameters())
        self._free = free.is_free_optimizer(self.optimizer)
        self._batchnorm = self._free and free.has_batchnorm(self.net)
        self.scheduler = loop.make_scheduler(
            self.optimizer, member.schedule, task.unit, self.steps_per_epoch
        )
        self.generator = torch.Generator().manual_seed(member.seed)
        self.epoch = 0
        self.diverged = False
        if state is not None:
            self._restore(loop.check_member_state(index, state, member))

    def _restore(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["data_rng"])
        if state["torch_rng"] is not None:
            self.torch_rng = state["torch_rng"]
        self.epoch = int(state["epoch"])
        self.diverged = bool(state["diverged"])

    def state(self) -> dict:
        """The run's checkpoint (see :func:`schedlab.lab.train.loop.member_state`)."""
        return loop.member_state(
            self.member, self.epoch, self.net.state_dict(), self.optimizer.state_dict(),
            self.scheduler.state_dict(), self.generator.get_state(), self.torch_rng,
            self.diverged,
        )  # fmt: skip

    def _batches(self) -> Any:
        task, split = self.task, self.task.train
        if split.in_memory:
            order = epoch_order(self.generator, len(split))
            for lo in range(0, len(order), task.batch_size):
                idx = order[lo : lo + task.batch_size]
                yield split.x[idx], split.y[idx]  # type: ignore[index]
        elif split.dataset is not None:
            from torch.utils.data import DataLoader

            yield from DataLoader(
                split.dataset, batch_size=task.batch_size, shuffle=True, generator=self.generator
            )
        else:
            yield from split.loader(self.generator)  # type: ignore[misc]

    def train_epoch(self) -> EpochRecord:
        """One epoch of the plain loop, then the evaluation on the validation split."""
        start = time.perf_counter()
        task, meter, rates = self.task, loop.Meter(), []
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.torch_rng)
            self.net.train()
            free.train_mode([self.optimizer])
            for x, y in self._batches():
                x, y = x.to(self.device), y.to(self.device)
                rates.append(loop.current_rate(self.optimizer))
                if self.diverged:
                    loop.after_step(self.scheduler)
                    continue
                self.optimizer.zero_grad()
                out = self.net(x)
                loss = task.loss(out, y)
                if not math.isfinite(loss.item()):
                    self.diverged = True  # the weights stay as they were before this step
                    loop.after_step(self.scheduler)
                    continue
                loss.backward()
                self.optimizer.step()
                loop.after_step(self.scheduler)
                hits = loop.correct(out.detach(), y) if task.classification else 0
                meter.add(loss.item(), len(y), hits)
            if self._free:  # evaluate at the averaged point x, BatchNorm statistics taken there
                free.eval_mode([self.optimizer])
                if self._batchnorm:
                    self._batchnorm_pass()
            self.torch_rng = torch.get_rng_state()
        val = self.evaluate()
        free.train_mode([self.optimizer])  # back to y before the checkpoint
        loop.after_epoch(self.scheduler, val[0])
        rec = loop.record(
            task, self.index, self.epoch, meter.result(), val, rates, self.diverged,
            time.perf_counter() - start,
        )  # fmt: skip
        self.epoch += 1
        return rec

    @torch.no_grad()
    def _batchnorm_pass(self) -> None:
        """BatchNorm running statistics at the weights of now (schedule-free: at ``x``)."""
        self.net.train()
        for x in free.bn_batches(self.task.train, self.task.batch_size):
            self.net(x.to(self.device))

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None, dict[str, float]]:
        """Validation loss, accuracy and the user's metrics (batch means weighted by size)."""
        task, split = self.task, self.task.val
        ev = loop.Evaluation(task.metrics)
        self.net.eval()
        for x, y in _eval_batches(split, task.batch_size):
            x, y = x.to(self.device), y.to(self.device)
            ev.add(task, self.net(x), y)
        return ev.result()


def _eval_batches(split: Any, batch_size: int) -> Any:
    """The validation split in order, ``batch_size`` samples at a time."""
    if split.in_memory:
        for lo in range(0, len(split), batch_size):
            yield split.x[lo : lo + batch_size], split.y[lo : lo + batch_size]
    elif split.dataset is not None:
        from torch.utils.data import DataLoader

        yield from DataLoader(split.dataset, batch_size=batch_size, shuffle=False)
    else:
        yield from split.loader(torch.Generator().manual_seed(0))
