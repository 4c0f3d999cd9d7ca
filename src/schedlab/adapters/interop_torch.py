"""``from_torch``: the schedlab equivalent of an existing PyTorch scheduler.

Reads the scheduler's configuration (not its recursive state) and builds the closed-form schedule
whose ``schedule(t)`` is the rate PyTorch sets after ``t`` calls of ``step()``, for parameter group
``group`` (other groups follow by ``ScheduleLR``'s ratio rule when their rates are proportional).
``CosineAnnealingLR`` is matched up to ``T_max`` (PyTorch oscillates after it, schedlab holds
``eta_min``); ``OneCycleLR`` up to ``total_steps - 1`` (PyTorch raises after it).  Step counts must
be whole numbers (``CyclicLR(step_size_up=3.5)`` has no equivalent and is refused).

``ReduceLROnPlateau`` gives a :class:`schedlab.Plateau` with the same parameters that continues
where the PyTorch object is: its current rate, ``best``, ``num_bad_epochs``, ``cooldown_counter``
and ``last_epoch`` are carried over.

The ``LambdaLR`` objects that ``transformers.get_scheduler`` returns are recognised from their
lambda's arguments (a ``functools.partial`` of a ``transformers.optimization`` function, or the
closure of older versions): ``linear``, ``cosine``, ``cosine_with_restarts``, ``polynomial``,
``constant``, ``constant_with_warmup``, ``inverse_sqrt``, ``warmup_stable_decay`` and
``cosine_with_min_lr``, matched over the training run (steps ``0 .. num_training_steps``;
after it, ``cosine`` rises again in Hugging Face and holds its floor here).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from torch.optim import lr_scheduler as tl

from schedlab.errors import ConfigError
from schedlab.schedules import (
    Schedule,
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    inverse_sqrt,
    linear,
    multistep,
    one_cycle,
    piecewise_constant,
    polynomial,
    sequence,
    step,
    warmup,
    wsd,
)
from schedlab.schedules.plateau import STATE_FORMAT, STATE_VERSION, Plateau
from schedlab.validate import is_int, is_real


def _whole(owner: str, name: str, value: Any) -> int:
    """A step count that PyTorch may hold as a float: whole numbers only (no silent rounding)."""
    if is_int(value):
        return int(value)
    if is_real(value) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise ConfigError(
        f"from_torch: {owner} {name} must be a whole number of steps (schedlab counts integer "
        f"steps, rounding would give a different schedule), got {value!r}"
    )


def _step(s: Any, g: int) -> Schedule:
    return step(
        lr=s.base_lrs[g], step_size=_whole("StepLR", "step_size", s.step_size), gamma=s.gamma
    )


def _multistep(s: Any, g: int) -> Schedule:
    if any(n > 1 for n in s.milestones.values()):
        raise ConfigError(
            f"from_torch: MultiStepLR with repeated milestones {sorted(s.milestones.elements())} "
            "has no schedlab equivalent (multistep milestones are strictly increasing)"
        )
    milestones = [_whole("MultiStepLR", "milestones", m) for m in sorted(s.milestones)]
    return multistep(lr=s.base_lrs[g], milestones=milestones, gamma=s.gamma)


def _constant(s: Any, g: int) -> Schedule:
    base = s.base_lrs[g]
    total = _whole("ConstantLR", "total_iters", s.total_iters)
    if total == 0:
        return constant(base)
    return piecewise_constant(boundaries=[total - 1], values=[base * s.factor, base])


def _linear(s: Any, g: int) -> Schedule:
    base = s.base_lrs[g]
    total = _whole("LinearLR", "total_iters", s.total_iters)
    return linear(start_lr=base * s.start_factor, end_lr=base * s.end_factor, steps=total)


def _cyclic(s: Any, g: int) -> Schedule:
    if s._scale_fn_custom is not None:
        raise ConfigError("from_torch: CyclicLR with a custom scale_fn has no schedlab equivalent")
    # PyTorch keeps total_size = up + down and step_ratio = up / total_size
    total = float(s.total_size)
    up = total * s.step_ratio
    near = round(up)
    if abs(up - near) > 1e-9 * max(1.0, total):
        raise ConfigError(
            "from_torch: CyclicLR step_size_up must be a whole number of steps (schedlab counts "
            f"integer steps, rounding would give a different schedule), got {up!r}"
        )
    down = total - near
    if not float(down).is_integer():
        raise ConfigError(
            "from_torch: CyclicLR step_size_down must be a whole number of steps (schedlab counts "
            f"integer steps, rounding would give a different schedule), got {down!r}"
        )
    return cyclic(
        min_lr=s.base_lrs[g],
        max_lr=s.max_lrs[g],
        step_size_up=int(near),
        step_size_down=int(down),
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
    tl.PolynomialLR: lambda s, g: polynomial(
        lr=s.base_lrs[g], steps=_whole("PolynomialLR", "total_iters", s.total_iters), power=s.power
    ),
    tl.CosineAnnealingLR: lambda s, g: cosine(
        lr=s.base_lrs[g], steps=_whole("CosineAnnealingLR", "T_max", s.T_max), min_lr=s.eta_min
    ),
    tl.CosineAnnealingWarmRestarts: lambda s, g: cosine_restarts(
        lr=s.base_lrs[g],
        period=_whole("CosineAnnealingWarmRestarts", "T_0", s.T_0),
        t_mult=s.T_mult,
        min_lr=s.eta_min,
    ),
    tl.CyclicLR: _cyclic,
    tl.OneCycleLR: _one_cycle,
    tl.SequentialLR: _sequential,
}


def _convert(scheduler: Any, group: int) -> Schedule:
    if type(scheduler) is tl.LambdaLR:
        return _lambda_lr(scheduler, group)
    convert = _CONVERTERS.get(type(scheduler))
    if convert is None:
        supported = ", ".join(t.__name__ for t in (*_CONVERTERS, tl.ReduceLROnPlateau))
        raise ConfigError(
            f"from_torch: {type(scheduler).__name__} has no schedlab equivalent "
            f"(supported: {supported}, and the LambdaLR of transformers.get_scheduler)"
        )
    try:
        return convert(scheduler, group)
    except ConfigError:
        raise
    except ValueError as err:  # SpecError, or a plain ValueError of the schedule layer
        raise ConfigError(f"from_torch: {type(scheduler).__name__}: {err}") from None


# -- Hugging Face: the LambdaLR of transformers.get_scheduler ----------------------------------


def _hf_warmup(schedule: Schedule, warmup_steps: int) -> Schedule:
    """HF's linear warmup from 0 to the base rate over ``warmup_steps`` (none when 0)."""
    return warmup(schedule, steps=warmup_steps) if warmup_steps else schedule


def _hf_decay_steps(num_warmup_steps: int, num_training_steps: int) -> int:
    steps = num_training_steps - num_warmup_steps
    if steps < 1:
        raise ConfigError(
            f"num_training_steps ({num_training_steps}) must exceed num_warmup_steps "
            f"({num_warmup_steps}) for a schedlab equivalent"
        )
    return steps


def _hf_linear(lr: float, num_warmup_steps: int, num_training_steps: int) -> Schedule:
    steps = _hf_decay_steps(num_warmup_steps, num_training_steps)
    return _hf_warmup(linear(lr, 0.0, steps), num_warmup_steps)


def _hf_cosine(
    lr: float,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr_rate: float = 0.0,
) -> Schedule:
    if num_cycles != 0.5:
        raise ConfigError(
            f"num_cycles must be 0.5 (one half-cosine) for a schedlab equivalent, got {num_cycles!r}"
        )
    steps = _hf_decay_steps(num_warmup_steps, num_training_steps)
    return _hf_warmup(cosine(lr, steps, min_lr=lr * min_lr_rate), num_warmup_steps)


def _hf_restarts(
    lr: float, num_warmup_steps: int, num_training_steps: int, num_cycles: int = 1
) -> Schedule:
    steps = _hf_decay_steps(num_warmup_steps, num_training_steps)
    if not is_int(num_cycles) or num_cycles < 1 or steps % num_cycles:
        raise ConfigError(
            f"num_cycles must be a positive integer that divides num_training_steps - "
            f"num_warmup_steps ({steps}) for a schedlab equivalent, got {num_cycles!r}"
        )
    restarts = cosine_restarts(lr, period=steps // num_cycles)
    # HF gives 0 from num_training_steps on
    return sequence(
        [_hf_warmup(restarts, num_warmup_steps), constant(0.0)], boundaries=[num_training_steps]
    )


def _hf_polynomial(
    lr: float,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float,
    power: float,
    lr_init: float,
) -> Schedule:
    steps = _hf_decay_steps(num_warmup_steps, num_training_steps)
    # HF decays lr_init to lr_end, as a factor of the group's own rate
    decay = polynomial(lr, steps, power=power, end_lr=lr * (lr_end / lr_init))
    return _hf_warmup(decay, num_warmup_steps)


def _hf_constant(lr: float, _: Any = None) -> Schedule:
    return constant(lr)


def _hf_constant_warmup(lr: float, num_warmup_steps: int) -> Schedule:
    return _hf_warmup(constant(lr), num_warmup_steps)


def _hf_inverse_sqrt(lr: float, num_warmup_steps: int, timescale: float | None = None) -> Schedule:
    return inverse_sqrt(lr, warmup_steps=num_warmup_steps, timescale=timescale)


def _hf_wsd(
    lr: float,
    num_warmup_steps: int,
    num_stable_steps: int,
    num_decay_steps: int,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> Schedule:
    if warmup_type != "linear":
        raise ConfigError(
            f"warmup_type must be 'linear' for a schedlab equivalent, got {warmup_type!r}"
        )
    if decay_type == "cosine" and num_cycles != 0.5:
        raise ConfigError(
            f"num_cycles must be 0.5 for a cosine decay with a schedlab equivalent, got "
            f"{num_cycles!r}"
        )
    total = num_warmup_steps + num_stable_steps + num_decay_steps
    return wsd(
        lr,
        total,
        num_decay_steps,
        warmup_steps=num_warmup_steps,
        decay=decay_type,
        min_lr=lr * min_lr_ratio,
    )


#: transformers.optimization function (partial) or enclosing function (closure) -> converter
_HF: dict[str, Callable[..., Schedule]] = {
    "_get_linear_schedule_with_warmup_lr_lambda": _hf_linear,
    "get_linear_schedule_with_warmup": _hf_linear,
    "_get_cosine_schedule_with_warmup_lr_lambda": _hf_cosine,
    "get_cosine_schedule_with_warmup": _hf_cosine,
    "get_cosine_with_min_lr_schedule_with_warmup": _hf_cosine,
    "_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda": _hf_restarts,
    "get_cosine_with_hard_restarts_schedule_with_warmup": _hf_restarts,
    "_get_polynomial_decay_schedule_with_warmup_lr_lambda": _hf_polynomial,
    "get_polynomial_decay_schedule_with_warmup": _hf_polynomial,
    "_get_constant_lambda": _hf_constant,
    "get_constant_schedule": _hf_constant,
    "_get_constant_schedule_with_warmup_lr_lambda": _hf_constant_warmup,
    "get_constant_schedule_with_warmup": _hf_constant_warmup,
    "_get_inverse_sqrt_schedule_lr_lambda": _hf_inverse_sqrt,
    "get_inverse_sqrt_schedule": _hf_inverse_sqrt,
    "_get_wsd_scheduler_lambda": _hf_wsd,
    "get_wsd_schedule": _hf_wsd,
}
_HF_MODULE = "transformers.optimization"


def _hf_lambda(fn: Any) -> tuple[str, dict[str, Any]] | None:
    """``(name, arguments)`` of a Hugging Face schedule lambda, or ``None`` for any other one."""
    if isinstance(fn, functools.partial):
        func = fn.func
        if getattr(func, "__module__", None) != _HF_MODULE or fn.args:
            return None
        params = inspect.signature(func).parameters.values()
        defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        return func.__name__, {**defaults, **fn.keywords}
    if getattr(fn, "__module__", None) != _HF_MODULE or not hasattr(fn, "__code__"):
        return None
    qualname = fn.__qualname__
    if ".<locals>." in qualname:  # a closure of older versions: read its captured arguments
        cells = fn.__closure__ or ()
        captured = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in cells), strict=True))
        return qualname.split(".<locals>.")[0], captured
    return fn.__name__, {}


def _lambda_lr(s: Any, group: int) -> Schedule:
    found = _hf_lambda(s.lr_lambdas[group])
    if found is None or found[0] not in _HF:
        raise ConfigError(
            "from_torch: LambdaLR has no schedlab equivalent unless its lambda comes from "
            "transformers.get_scheduler (linear, cosine, cosine_with_restarts, polynomial, "
            "constant, constant_with_warmup, inverse_sqrt, warmup_stable_decay, "
            f"cosine_with_min_lr), got {s.lr_lambdas[group]!r} "
            f"(supported: {', '.join(t.__name__ for t in (*_CONVERTERS, tl.ReduceLROnPlateau))})"
        )
    name, kwargs = found
    convert = _HF[name]
    try:
        inspect.signature(convert).bind(s.base_lrs[group], **kwargs)
    except TypeError:
        raise ConfigError(
            f"from_torch: LambdaLR of transformers ({name}) has arguments {sorted(kwargs)} that "
            "this version of schedlab does not recognise"
        ) from None
    try:
        return convert(s.base_lrs[group], **kwargs)
    except ValueError as err:  # SpecError, or a plain ValueError of the schedule layer
        raise ConfigError(f"from_torch: LambdaLR of transformers ({name}): {err}") from None


# -- ReduceLROnPlateau ----------------------------------------------------------------------------


def _plateau(s: Any, group: int) -> Plateau:
    """A plateau with the scheduler's parameters that continues from its current state."""
    rate = float(s.optimizer.param_groups[group]["lr"])
    try:
        plateau = Plateau(
            lr=rate,
            mode=s.mode,
            factor=s.factor,
            patience=s.patience,
            threshold=s.threshold,
            threshold_mode=s.threshold_mode,
            cooldown=s.cooldown,
            min_lr=float(s.min_lrs[group]),
            eps=s.eps,
        )
    except ValueError as err:  # SpecError, or a plain ValueError of the schedule layer
        raise ConfigError(f"from_torch: ReduceLROnPlateau: {err}") from None
    plateau.load_state_dict(
        {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "spec": plateau.spec(),
            "rate": rate,
            "best": float(s.best),
            "bad_updates": int(s.num_bad_epochs),
            "cooldown_left": int(s.cooldown_counter),
            "updates": max(int(s.last_epoch), 0),
            "warmup_clock": 0,
        }
    )
    return plateau


def from_torch(scheduler: Any, group: int = 0) -> Schedule | Plateau:
    """The schedlab schedule equivalent to a PyTorch scheduler, for parameter group ``group``.

    ``scheduler`` is an ``LRScheduler`` instance or a PyTorch Lightning scheduler config
    (``{"scheduler": sched, "interval": ...}``).  Unsupported schedulers (a ``LambdaLR`` not made
    by ``transformers.get_scheduler``, ``MultiplicativeLR``, ``ChainedScheduler``, a custom
    ``scale_fn``, non-integer step counts) raise :class:`~schedlab.errors.ConfigError`.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> from_torch(torch.optim.lr_scheduler.StepLR(opt, step_size=30))
    step(lr=0.1, step_size=30, gamma=0.1)
    """
    if isinstance(scheduler, Mapping):
        if "scheduler" not in scheduler:
            raise ConfigError(
                "from_torch: a config dict must hold the scheduler under 'scheduler' "
                f"(Lightning's lr_scheduler config), got keys {sorted(scheduler)}"
            )
        scheduler = scheduler["scheduler"]
    if not isinstance(scheduler, tl.LRScheduler):
        raise ConfigError(
            f"from_torch: scheduler must be a torch.optim.lr_scheduler.LRScheduler, got {scheduler!r}"
        )
    groups = len(scheduler.optimizer.param_groups)
    if not is_int(group) or not 0 <= group < groups:
        raise ConfigError(f"from_torch: group must be an integer in [0, {groups}), got {group!r}")
    group = int(group)
    if type(scheduler) is tl.ReduceLROnPlateau:
        return _plateau(scheduler, group)
    return _convert(scheduler, group)
