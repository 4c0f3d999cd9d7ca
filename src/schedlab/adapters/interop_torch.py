"""``from_torch``: the schedlab equivalent of an existing PyTorch scheduler.

Reads the scheduler's configuration (not its recursive state) and builds the closed-form schedule
whose ``schedule(t)`` is the rate PyTorch sets after ``t`` calls of ``step()``, for parameter group
``group`` (other groups follow by ``ScheduleLR``'s ratio rule when their rates are proportional).
``CosineAnnealingLR`` is matched up to ``T_max`` (PyTorch oscillates after it, schedlab holds
``eta_min``); ``OneCycleLR`` up to ``total_steps - 1`` (PyTorch raises after it).
``ReduceLROnPlateau`` gives a fresh :class:`schedlab.Plateau` with the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch.optim import lr_scheduler as tl

from schedlab.schedules import (
    Schedule,
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    linear,
    multistep,
    one_cycle,
    piecewise_constant,
    polynomial,
    sequence,
    step,
)
from schedlab.schedules.plateau import Plateau


def _step(s: Any, g: int) -> Schedule:
    return step(lr=s.base_lrs[g], step_size=s.step_size, gamma=s.gamma)


def _multistep(s: Any, g: int) -> Schedule:
    if any(n > 1 for n in s.milestones.values()):
        raise ValueError(
            f"from_torch: MultiStepLR with repeated milestones {sorted(s.milestones.elements())} "
            "has no schedlab equivalent (multistep milestones are strictly increasing)"
        )
    return multistep(lr=s.base_lrs[g], milestones=sorted(s.milestones), gamma=s.gamma)


def _constant(s: Any, g: int) -> Schedule:
    base = s.base_lrs[g]
    if s.total_iters == 0:
        return constant(base)
    return piecewise_constant(boundaries=[s.total_iters - 1], values=[base * s.factor, base])


def _linear(s: Any, g: int) -> Schedule:
    base = s.base_lrs[g]
    return linear(start_lr=base * s.start_factor, end_lr=base * s.end_factor, steps=s.total_iters)


def _cyclic(s: Any, g: int) -> Schedule:
    if s._scale_fn_custom is not None:
        raise ValueError("from_torch: CyclicLR with a custom scale_fn has no schedlab equivalent")
    up = round(s.total_size * s.step_ratio)
    return cyclic(
        min_lr=s.base_lrs[g],
        max_lr=s.max_lrs[g],
        step_size_up=up,
        step_size_down=round(s.total_size) - up,
        mode=s.mode,
        gamma=s.gamma,
    )


def _one_cycle(s: Any, g: int) -> Schedule:
    group = s.optimizer.param_groups[g]
    phases = s._schedule_phases
    return one_cycle(
        max_lr=group["max_lr"],
        steps=s.total_steps,
        pct_start=(phases[0]["end_step"] + 1) / s.total_steps,
        anneal=s._anneal_func_type,
        div_factor=group["max_lr"] / group["initial_lr"],
        final_div_factor=group["initial_lr"] / group["min_lr"],
        three_phase=len(phases) == 3,
    )


def _sequential(s: Any, g: int) -> Schedule:
    return sequence([_convert(sub, g) for sub in s._schedulers], boundaries=list(s._milestones))


_CONVERTERS: dict[type, Callable[[Any, int], Schedule]] = {
    tl.StepLR: _step,
    tl.MultiStepLR: _multistep,
    tl.ConstantLR: _constant,
    tl.LinearLR: _linear,
    tl.ExponentialLR: lambda s, g: exponential(lr=s.base_lrs[g], gamma=s.gamma),
    tl.PolynomialLR: lambda s, g: polynomial(lr=s.base_lrs[g], steps=s.total_iters, power=s.power),
    tl.CosineAnnealingLR: lambda s, g: cosine(lr=s.base_lrs[g], steps=s.T_max, min_lr=s.eta_min),
    tl.CosineAnnealingWarmRestarts: lambda s, g: cosine_restarts(
        lr=s.base_lrs[g], period=s.T_0, t_mult=s.T_mult, min_lr=s.eta_min
    ),
    tl.CyclicLR: _cyclic,
    tl.OneCycleLR: _one_cycle,
    tl.SequentialLR: _sequential,
}


def _convert(scheduler: Any, group: int) -> Schedule:
    convert = _CONVERTERS.get(type(scheduler))
    if convert is None:
        supported = ", ".join(t.__name__ for t in (*_CONVERTERS, tl.ReduceLROnPlateau))
        raise ValueError(
            f"from_torch: {type(scheduler).__name__} has no schedlab equivalent "
            f"(supported: {supported})"
        )
    return convert(scheduler, group)


def _plateau(s: Any, group: int) -> Plateau:
    return Plateau(
        lr=float(s.optimizer.param_groups[group]["lr"]),
        mode=s.mode,
        factor=s.factor,
        patience=s.patience,
        threshold=s.threshold,
        threshold_mode=s.threshold_mode,
        cooldown=s.cooldown,
        min_lr=float(s.min_lrs[group]),
        eps=s.eps,
    )


def from_torch(scheduler: Any, group: int = 0) -> Schedule | Plateau:
    """The schedlab schedule equivalent to a PyTorch scheduler, for parameter group ``group``.

    ``scheduler`` is an ``LRScheduler`` instance or a PyTorch Lightning scheduler config
    (``{"scheduler": sched, "interval": ...}``).  Unsupported schedulers (``LambdaLR``,
    ``MultiplicativeLR``, ``ChainedScheduler``, custom ``scale_fn``) raise ``ValueError``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> from_torch(torch.optim.lr_scheduler.StepLR(opt, step_size=30))
    step(lr=0.1, step_size=30, gamma=0.1)
    """
    if isinstance(scheduler, Mapping):
        if "scheduler" not in scheduler:
            raise ValueError(
                "from_torch: a config dict must hold the scheduler under 'scheduler' "
                f"(Lightning's lr_scheduler config), got keys {sorted(scheduler)}"
            )
        scheduler = scheduler["scheduler"]
    if not isinstance(scheduler, tl.LRScheduler):
        raise ValueError(
            f"from_torch: scheduler must be a torch.optim.lr_scheduler.LRScheduler, got {scheduler!r}"
        )
    groups = len(scheduler.optimizer.param_groups)
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < groups:
        raise ValueError(f"from_torch: group must be an integer in [0, {groups}), got {group!r}")
    if type(scheduler) is tl.ReduceLROnPlateau:
        return _plateau(scheduler, group)
    return _convert(scheduler, group)
