"""PyTorch adapter for :class:`schedlab.Plateau`: ``PlateauLR``, stepped with ``step(metric)``.

It subclasses ``torch.optim.lr_scheduler.ReduceLROnPlateau`` so that PyTorch Lightning and the
Hugging Face ``Trainer`` recognise it and pass the monitored metric, but every decision comes from
the :class:`~schedlab.Plateau` (bitwise equal to ``ReduceLROnPlateau`` on finite metrics).

Parameter groups: one plateau drives all groups, group ``g`` getting ``plateau.lr * scale[g]``
(``scale[g] = initial_lr[g] / initial_lr[0]``, or ``group_scales``); or pass one plateau per group
(each group then reduces exactly as ``ReduceLROnPlateau`` reduces it, with its own ``min_lr``).
With a warmup counted in optimizer iterations (``warmup_unit="step"``) call ``step()`` without a
metric after each iteration; ``step(metric)`` observes a metric (usually once per epoch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from schedlab.adapters.torch_groups import ratios, write
from schedlab.schedules.plateau import Plateau, policy_from_spec

STATE_FORMAT = "schedlab.torch.PlateauLR"
STATE_VERSION = 1


def _plateau(spec: Any) -> Plateau:
    policy = policy_from_spec(spec)
    if not isinstance(policy, Plateau):
        raise ValueError(
            f"PlateauLR: plateau must be a Plateau or a plateau spec, got a {policy.kind!r} "
            "schedule (use schedlab.adapters.torch.ScheduleLR for schedules)"
        )
    return policy


class PlateauLR(ReduceLROnPlateau):
    """Reduce-on-plateau for a PyTorch optimizer, driven by :class:`schedlab.Plateau`.

    Args:
        optimizer: the optimizer whose ``param_groups`` get the rates.
        plateau: a ``Plateau`` or plateau spec (``"plateau(lr=0.1, patience=5)"``), or a list of
            them, one per parameter group. The adapter drives these objects (it does not copy them).
        group_scales: per-group factors for a single plateau (default: initial rate ratios).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        plateau: Any,
        *,
        group_scales: Sequence[float] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"PlateauLR: optimizer must be a torch.optim.Optimizer, got {optimizer!r}"
            )
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if isinstance(plateau, (list, tuple)):
            if len(plateau) != len(groups):
                raise ValueError(
                    f"PlateauLR: plateau must be one plateau or a list of {len(groups)} "
                    f"(one per parameter group), got {len(plateau)}"
                )
            self._plateaus = [_plateau(p) for p in plateau]
            if len({id(p) for p in self._plateaus}) != len(self._plateaus):
                raise ValueError("PlateauLR: plateau list must hold distinct Plateau objects")
            shared = False
        else:
            self._plateaus = [_plateau(plateau)]
            shared = True
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in groups]
        if group_scales is not None:
            if not shared or len(group_scales) != len(groups):
                raise ValueError(
                    f"PlateauLR: group_scales must be a list of {len(groups)} numbers with a single "
                    f"plateau, got {group_scales!r}"
                )
            self._scales = [float(s) for s in group_scales]
        else:
            self._scales = (
                ratios("PlateauLR", "lr", self.base_lrs) if shared else [1.0] * len(groups)
            )
        self._shared = shared
        self._first = self._plateaus[0]
        self.last_epoch = 0
        self._write()

    @property
    def plateaus(self) -> list[Plateau]:
        """The driven plateaus (one, or one per group)."""
        return list(self._plateaus)

    def _rates(self) -> list[float]:
        if self._shared:
            lr = self._plateaus[0].lr
            return [lr if s == 1.0 else lr * s for s in self._scales]
        return [p.lr for p in self._plateaus]

    def _write(self) -> None:
        rates = self._rates()
        self._groups = groups = self.optimizer.param_groups
        for group, rate in zip(groups, rates, strict=True):
            write(group, "lr", rate)
        self._last_lr = rates
        self._written = self._plateaus[0].lr

    def _changed(self) -> bool:
        """Whether the rates differ from those written (or the optimizer replaced its groups)."""
        if self.optimizer.param_groups is not self._groups:
            return True
        if self._shared:
            return self._plateaus[0].lr != self._written
        return [p.lr for p in self._plateaus] != self._last_lr

    def step(self, metrics: Any = None, epoch: None = None) -> None:  # type: ignore[override]
        """Observe ``metrics`` (a number or 0-d tensor), or without one advance a step warmup."""
        if metrics is None or epoch is not None:
            self._tick(epoch)
            return
        self.last_epoch += 1
        if self._shared:
            lr = self._first.update(metrics)
            if lr == self._written and self.optimizer.param_groups is self._groups:
                return  # rates change rarely: write only then, as ReduceLROnPlateau does
        else:
            for p in self._plateaus:
                p.update(metrics)
        if self._changed():
            self._write()

    def _tick(self, epoch: Any) -> None:
        if epoch is not None:
            raise ValueError(
                f"PlateauLR: epoch must be None (deprecated in PyTorch), got {epoch!r}"
            )
        for p in self._plateaus:
            p.tick()
        if self._changed():
            self._write()

    def get_last_lr(self) -> list[float]:
        """The rates written by the last ``step``, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """An explicit, versioned payload: each plateau's state and the group scales."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "plateaus": [p.state_dict() for p in self._plateaus],
            "scales": list(self._scales),
            "last_epoch": self.last_epoch,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the plateaus (same specs required) and write their rates to the optimizer."""
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"PlateauLR: state_dict must come from PlateauLR.state_dict(), got {state!r}"
            )
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"PlateauLR: state_dict version must be {STATE_VERSION}, got {state.get('version')!r}"
            )
        if len(state["plateaus"]) != len(self._plateaus):
            raise ValueError(
                f"PlateauLR: state_dict has {len(state['plateaus'])} plateaus, this scheduler "
                f"{len(self._plateaus)}"
            )
        for p, s in zip(self._plateaus, state["plateaus"], strict=True):
            p.load_state_dict(s)
        self._scales = [float(s) for s in state["scales"]]
        self.last_epoch = int(state["last_epoch"])
        self._write()
