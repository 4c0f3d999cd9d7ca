"""PyTorch adapter for :class:`schedlab.Plateau`: ``PlateauLR``, stepped with ``step(metric)``.

It subclasses ``torch.optim.lr_scheduler.ReduceLROnPlateau`` so that PyTorch Lightning and the
Hugging Face ``Trainer`` recognise it and pass the monitored metric, but every decision comes from
the :class:`~schedlab.Plateau` (bitwise equal to ``ReduceLROnPlateau`` on finite metrics).  It has
``ReduceLROnPlateau``'s attributes (``best``, ``num_bad_epochs``, ``cooldown_counter``, ``mode``,
``threshold``, ``patience``, ``min_lrs``, ``eps``, ...), read from the plateau of group 0.

Parameter groups: one plateau drives all groups, group ``g`` getting ``plateau.lr * scale[g]``
(``scale[g] = initial_lr[g] / initial_lr[0]``, or ``group_scales``), its floor scaled too
(``group_min_lr="scaled"``); with ``group_min_lr="absolute"`` each group ``g != 0`` follows a copy
of the plateau whose ``lr`` (and ``warmup_start_lr``) is scaled and whose ``min_lr`` is kept, as
``ReduceLROnPlateau(min_lr=...)`` does.  Or pass one plateau per group (each group then reduces
exactly as ``ReduceLROnPlateau`` reduces it, with its own ``min_lr``).

Warmup counted in optimizer iterations (``warmup_unit="step"``): the optimizer's own steps advance
it, through a step post-hook (``Optimizer.register_step_post_hook``) held while the warmup runs.
So it advances wherever the optimizer steps: your loop, Lightning, the Hugging Face ``Trainer``
(which never call ``step()`` without a metric on a ``ReduceLROnPlateau``).  ``step()`` without a
metric is then accepted and changes nothing.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from schedlab.adapters.torch_groups import (
    check_group_min_lr,
    check_optimizer,
    check_scales,
    ratios,
    write,
)
from schedlab.errors import ConfigError
from schedlab.schedules.plateau import Plateau, policy_from_spec
from schedlab.validate import is_int

STATE_FORMAT = "schedlab.torch.PlateauLR"
STATE_VERSION = 1


def _fail(message: str) -> ConfigError:
    return ConfigError(f"PlateauLR: {message}")


def _plateau(spec: Any) -> Plateau:
    policy = policy_from_spec(spec)
    if not isinstance(policy, Plateau):
        raise _fail(
            f"plateau must be a Plateau or a plateau spec, got a {policy.kind!r} "
            "schedule (use schedlab.adapters.torch.ScheduleLR for schedules)"
        )
    return policy


def _per_step(plateau: Plateau) -> bool:
    return plateau.spec()["warmup_unit"] == "step"


def _scaled_copy(plateau: Plateau, scale: float) -> Plateau:
    """A plateau with ``lr`` and ``warmup_start_lr`` times ``scale``; floors and counters kept."""
    spec = plateau.spec()
    spec.pop("kind")
    spec["lr"] *= scale
    spec["warmup_start_lr"] *= scale
    copy = Plateau(**spec)
    state = plateau.state_dict()
    copy.load_state_dict({**state, "spec": copy.spec(), "rate": state["rate"] * scale})
    return copy


def _tick_hook(scheduler: PlateauLR) -> Any:
    """An optimizer step post-hook that advances ``scheduler``'s per-step warmups (held weakly)."""
    ref = weakref.ref(scheduler)

    def tick(optimizer: Any, args: Any, kwargs: Any) -> None:
        sched = ref()
        if sched is not None:
            sched._on_optimizer_step()

    return tick


class PlateauLR(ReduceLROnPlateau):
    """Reduce-on-plateau for a PyTorch optimizer, driven by :class:`schedlab.Plateau`.

    Args:
        optimizer: the optimizer whose ``param_groups`` get the rates.
        plateau: a ``Plateau`` or plateau spec (``"plateau(lr=0.1, patience=5)"``), or a list of
            them, one per parameter group. The adapter drives these objects (it does not copy them).
        group_scales: per-group factors for a single plateau (default: initial rate ratios).
        group_min_lr: for a single plateau, ``"scaled"`` (default: group ``g``'s floor is
            ``min_lr * scale[g]``) or ``"absolute"`` (``min_lr`` in every group, as PyTorch).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = PlateauLR(opt, "plateau(lr=0.1, patience=0)")
    >>> sched.step(1.0); sched.step(2.0); sched.get_last_lr(), sched.num_bad_epochs
    ([0.010000000000000002], 0)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        plateau: Any,
        *,
        group_scales: Sequence[float] | None = None,
        group_min_lr: str = "scaled",
    ) -> None:
        groups = check_optimizer("PlateauLR", optimizer)
        self.optimizer = optimizer
        self._floors = check_group_min_lr("PlateauLR", group_min_lr)
        shared = not isinstance(plateau, (list, tuple))
        if shared:
            plateaus = [_plateau(plateau)]
        else:
            if len(plateau) != len(groups):
                raise _fail(
                    f"plateau must be one plateau or a list of {len(groups)} "
                    f"(one per parameter group), got {len(plateau)}"
                )
            plateaus = [_plateau(p) for p in plateau]
            if len({id(p) for p in plateaus}) != len(plateaus):
                raise _fail("plateau list must hold distinct Plateau objects")
            if group_scales is not None or self._floors != "scaled":
                raise _fail(
                    "group_scales and group_min_lr apply to a single plateau; with one plateau "
                    "per group give each its own lr and min_lr"
                )
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in groups]
        if group_scales is not None:
            self._scales = check_scales("PlateauLR", group_scales, len(groups))
        else:
            self._scales = (
                ratios("PlateauLR", "lr", self.base_lrs) if shared else [1.0] * len(groups)
            )
        self._derived = shared and self._floors == "absolute" and len(groups) > 1
        if self._derived:  # one plateau per group, as ReduceLROnPlateau with an absolute min_lr
            plateaus += [_scaled_copy(plateaus[0], s) for s in self._scales[1:]]
            shared = False
        self._plateaus = plateaus
        self._shared = shared
        self._first = plateaus[0]
        self.last_epoch = 0
        self._hook: Any = None
        self._watch_warmup()
        self._write()

    # -- ReduceLROnPlateau's attributes, read from the plateau of group 0 ----------------------
    @property
    def plateaus(self) -> list[Plateau]:
        """The driven plateaus (one, or one per group)."""
        return list(self._plateaus)

    def _param(self, name: str) -> Any:
        return self._first.spec()[name]

    mode = property(lambda self: self._param("mode"), doc="``'min'`` or ``'max'``.")
    factor = property(lambda self: self._param("factor"), doc="Reduction factor.")
    patience = property(lambda self: self._param("patience"), doc="Bad updates tolerated.")
    threshold = property(lambda self: self._param("threshold"), doc="Improvement threshold.")
    threshold_mode = property(lambda self: self._param("threshold_mode"), doc="``'rel'``/``'abs'``")
    cooldown = property(lambda self: self._param("cooldown"), doc="Updates of cooldown.")
    eps = property(lambda self: self._param("eps"), doc="Smallest reduction applied.")
    best = property(lambda self: self._first.best, doc="Best metric so far.")
    num_bad_epochs = property(lambda self: self._first.bad_updates, doc="Bad updates counted.")
    cooldown_counter = property(lambda self: self._first.cooldown_left, doc="Cooldown left.")

    @property
    def mode_worse(self) -> float:
        """``inf`` in ``min`` mode, ``-inf`` in ``max`` mode (the initial ``best``)."""
        return float("inf") if self.mode == "min" else float("-inf")

    @property
    def min_lrs(self) -> list[float]:
        """Each group's floor (``min_lr * scale[g]`` for a single scaled plateau)."""
        if self._shared:
            floor = self._param("min_lr")
            return [floor if s == 1.0 else floor * s for s in self._scales]
        return [p.spec()["min_lr"] for p in self._plateaus]

    @property
    def default_min_lr(self) -> float | None:
        """The one ``min_lr`` of all groups, or ``None`` when groups have their own."""
        floors = self.min_lrs
        return floors[0] if all(f == floors[0] for f in floors) else None

    # -- writing rates -------------------------------------------------------------------------
    def _rates(self) -> list[float]:
        if self._shared:
            lr = self._plateaus[0].lr
            return [lr if s == 1.0 else lr * s for s in self._scales]
        return [p.lr for p in self._plateaus]

    def _write(self) -> None:
        rates = self._rates()
        self._groups = groups = self.optimizer.param_groups
        if len(groups) != len(rates):
            raise _fail(
                f"the optimizer now has {len(groups)} parameter groups, this scheduler was built "
                f"for {len(rates)}"
            )
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

    # -- per-step warmup -----------------------------------------------------------------------
    def _watch_warmup(self) -> None:
        """Hold the optimizer step hook exactly while a per-step warmup runs."""
        ticking = any(_per_step(p) and p.warming_up for p in self._plateaus)
        if ticking and self._hook is None:
            self._hook = self.optimizer.register_step_post_hook(_tick_hook(self))
        elif not ticking and self._hook is not None:
            self._hook.remove()  # never from inside the hook: torch iterates over the hooks
            self._hook = None

    def _on_optimizer_step(self) -> None:
        for p in self._plateaus:
            if _per_step(p) and p.warming_up:
                p.tick()
        if self._changed():
            self._write()

    # -- stepping ------------------------------------------------------------------------------
    def step(self, metrics: Any = None, epoch: None = None) -> None:  # type: ignore[override]
        """Observe ``metrics`` (a number or 0-d tensor): one plateau update.

        Without a metric (loops written for per-iteration schedulers) it changes nothing when a
        warmup counts optimizer steps, which advance it themselves; otherwise it is an error.
        """
        if epoch is not None:
            raise _fail(f"epoch must be None (deprecated in PyTorch), got {epoch!r}")
        if metrics is None:
            if not any(_per_step(p) for p in self._plateaus):
                raise _fail(
                    "step() needs the monitored metric, e.g. step(val_loss) once per epoch (only a "
                    "warmup with warmup_unit='step' runs without one, advanced by optimizer steps)"
                )
            if self._changed():
                self._write()
            return
        self.last_epoch += 1
        if self._hook is not None:
            self._watch_warmup()
        if self._shared:
            lr = self._first.update(metrics)
            if lr == self._written and self.optimizer.param_groups is self._groups:
                return  # rates change rarely: write only then, as ReduceLROnPlateau does
        else:
            self._first.update(metrics)
            with warnings.catch_warnings():
                if self._derived:  # copies of group 0's plateau: its warning is enough
                    warnings.simplefilter("ignore")
                for p in self._plateaus[1:]:
                    p.update(metrics)
        if self._changed():
            self._write()

    def get_last_lr(self) -> list[float]:
        """The rates written by the last ``step``, one per group."""
        return list(self._last_lr)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """An explicit, versioned payload: each plateau's state and the group scales."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "plateaus": [p.state_dict() for p in self._plateaus],
            "scales": list(self._scales),
            "group_min_lr": self._floors,
            "last_epoch": self.last_epoch,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the plateaus (same specs required) and write their rates to the optimizer.

        Everything is checked first: a refused state leaves the scheduler and its plateaus as
        they were.
        """
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise _fail(f"state_dict must come from PlateauLR.state_dict(), got {state!r}")
        if state.get("version") != STATE_VERSION:
            raise _fail(f"state_dict version must be {STATE_VERSION}, got {state.get('version')!r}")
        saved = state.get("plateaus")
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._plateaus):
            count = len(saved) if isinstance(saved, (list, tuple)) else saved
            raise _fail(
                f"state_dict has {count!r} plateaus, this scheduler {len(self._plateaus)} "
                f"(for {len(self.optimizer.param_groups)} parameter groups)"
            )
        floors = state.get("group_min_lr", "scaled")
        if floors != self._floors:
            raise _fail(f"state_dict has group_min_lr={floors!r}, this scheduler {self._floors!r}")
        scales = state.get("scales")
        if not isinstance(scales, (list, tuple)) or len(scales) != len(self._scales):
            raise _fail(
                f"state_dict scales must be {len(self._scales)} (one per parameter group), "
                f"got {scales!r}"
            )
        scales = check_scales("PlateauLR", scales, len(self._scales))
        last_epoch = state.get("last_epoch")
        if not is_int(last_epoch) or last_epoch < 0:
            raise _fail(f"state_dict last_epoch must be an integer >= 0, got {last_epoch!r}")
        for g, (p, s) in enumerate(zip(self._plateaus, saved, strict=True)):
            restored = Plateau.from_state_dict(s)  # checks the payload without touching p
            if restored.spec() != p.spec():
                raise _fail(
                    f"state_dict plateau {g} has a different spec: saved {restored!r}, "
                    f"this one {p!r}"
                )
        for p, s in zip(self._plateaus, saved, strict=True):
            p.load_state_dict(s)
        self._scales = scales
        self.last_epoch = int(last_epoch)
        self._watch_warmup()
        self._write()

    # -- pickling and display --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_hook"] = None  # the optimizer's hooks are not pickled with it: registered again
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._watch_warmup()

    def __repr__(self) -> str:
        if self._shared or self._derived:
            what = repr(self._first)
        else:
            what = "[" + ", ".join(repr(p) for p in self._plateaus) + "]"
        extra = ", group_min_lr='absolute'" if self._floors == "absolute" else ""
        return f"PlateauLR({what}{extra}, last_epoch={self.last_epoch})"
