"""Hugging Face's schedulers by name: ``hf(name="cosine", lr=..., num_warmup_steps=...,
num_training_steps=...)`` is ``transformers.get_scheduler(name, ...)``'s learning rate.

The point of this kind is Hugging Face's *meaning* of the step counts: ``num_training_steps`` is
the whole run, warmup included, so ``hf("cosine", 3e-4, num_warmup_steps=500,
num_training_steps=10_000)`` decays over the 9500 steps after the warmup.  (Written with the
other kinds it is ``warmup(cosine(3e-4, steps=9500), steps=500)``: counting the cosine's steps
as the whole run gives a schedule ``num_warmup_steps`` steps too long.)

The scheduler-specific arguments (``get_scheduler``'s ``scheduler_specific_kwargs``, the
Trainer's ``lr_scheduler_kwargs``) keep their Hugging Face names and defaults; each name takes
only its own.  Arguments left out are not part of the spec.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from schedlab.errors import SpecError
from schedlab.schedules import params as p
from schedlab.schedules.base import Evaluator, schedule_kind
from schedlab.schedules.params import Count, Param, Rate, Role
from schedlab.schedules.shapes import floor_div, half_cosine

#: Hugging Face scheduler name -> the scheduler-specific arguments it takes.
NAMES: dict[str, tuple[str, ...]] = {
    "linear": (),
    "cosine": ("num_cycles",),
    "cosine_with_restarts": ("num_cycles",),
    "polynomial": ("lr_end", "power"),
    "constant": (),
    "constant_with_warmup": (),
    "inverse_sqrt": ("timescale",),
    "cosine_with_min_lr": ("num_cycles", "min_lr", "min_lr_rate"),
    "warmup_stable_decay": (
        "num_decay_steps",
        "num_stable_steps",
        "warmup_type",
        "decay_type",
        "min_lr_ratio",
        "num_cycles",
    ),
}
#: Names whose values depend on ``num_training_steps`` (for the others it only records the run
#: length, the schedule's horizon; Hugging Face ignores it there).
_NEEDS_TOTAL = ("linear", "cosine", "cosine_with_restarts", "polynomial", "cosine_with_min_lr")
_SHAPES = ("linear", "cosine", "1-sqrt")


def _maybe(check: Any, role: Role) -> Param:
    return p.optional(Param(check, role))


def _horizon(q: Mapping[str, Any]) -> int | None:
    if q["name"] == "warmup_stable_decay" and q.get("num_stable_steps") is not None:
        return q["num_warmup_steps"] + q["num_stable_steps"] + q["num_decay_steps"]
    return q.get("num_training_steps")


@schedule_kind(horizon=_horizon, sparse=True)
def hf(
    name: Annotated[str, p.choice(*NAMES)],
    lr: Rate,
    num_warmup_steps: Count = 0,
    num_training_steps: Annotated[int | None, _maybe(p.positive_int, Role.STEPS)] = None,
    num_cycles: Annotated[float | None, _maybe(p.positive, Role.FACTOR)] = None,
    lr_end: Annotated[float | None, _maybe(p.learning_rate, Role.FLOOR_LR)] = None,
    power: Annotated[float | None, _maybe(p.positive, Role.FACTOR)] = None,
    timescale: Annotated[float | None, _maybe(p.duration, Role.DURATION)] = None,
    min_lr: Annotated[float | None, _maybe(p.learning_rate, Role.FLOOR_LR)] = None,
    min_lr_rate: Annotated[float | None, _maybe(p.factor, Role.FACTOR)] = None,
    num_decay_steps: Annotated[int | None, _maybe(p.count, Role.COUNT)] = None,
    num_stable_steps: Annotated[int | None, _maybe(p.count, Role.COUNT)] = None,
    warmup_type: Annotated[str | None, p.optional(p.choice(*_SHAPES))] = None,
    decay_type: Annotated[str | None, p.optional(p.choice(*_SHAPES))] = None,
    min_lr_ratio: Annotated[float | None, _maybe(p.fraction, Role.FACTOR)] = None,
) -> Evaluator:
    """Hugging Face ``transformers.get_scheduler(name, optimizer(lr), num_warmup_steps,
    num_training_steps, scheduler_specific_kwargs)``: its rate at step ``t``.

    ``W = num_warmup_steps``, ``T = num_training_steps`` (the whole run, warmup included),
    ``D = T - W`` the steps after the warmup and ``n = t - W``.  Every name but ``constant`` and
    ``warmup_stable_decay`` first ramps ``lr * t / W`` for ``t < W``; then:

    - ``linear``: ``lr * (D - n) / D``, 0 from ``T`` on;
    - ``cosine`` (``num_cycles=0.5``): ``lr * (1 + cos(2 pi num_cycles n / D)) / 2``;
    - ``cosine_with_min_lr`` (``num_cycles=0.5``, ``min_lr`` or ``min_lr_rate`` (``min_lr /
      lr``), exactly one): the same between ``min_lr`` and ``lr``;
    - ``cosine_with_restarts`` (``num_cycles=1``, an integer): ``num_cycles`` cosines of
      ``D / num_cycles`` steps each, each from ``lr`` to 0; 0 from ``T`` on;
    - ``polynomial`` (``lr_end=1e-7 < lr``, ``power=1.0``):
      ``(lr - lr_end) * (1 - n / D)**power + lr_end``, ``lr_end`` from ``T`` on;
    - ``constant_with_warmup``: ``lr``; ``constant``: ``lr`` (no warmup: ``W`` must be 0);
    - ``inverse_sqrt`` (``timescale=W``, 10000 if ``W`` is 0): ``lr / sqrt(1 + n / timescale)``;
    - ``warmup_stable_decay`` (``num_decay_steps`` required; ``num_stable_steps``, by default
      ``T - W - num_decay_steps``; ``warmup_type="linear"``, ``decay_type="cosine"``,
      ``min_lr_ratio=0``, ``num_cycles=0.5``): warmup from ``min_lr_ratio * lr`` to ``lr`` over
      ``W`` steps (``linear``: ``x``, ``cosine``: ``(1 - cos(pi x)) / 2``, ``1-sqrt``:
      ``1 - sqrt(1 - x)``), hold ``lr``, decay to ``min_lr_ratio * lr`` over
      ``num_decay_steps`` (``linear``: ``1 - x``, ``cosine``: ``(1 + cos(2 pi num_cycles x)) /
      2``, ``1-sqrt``: ``1 - sqrt(x)``), then ``min_lr_ratio * lr``.

    From ``T`` on the value is the one at ``T`` (Hugging Face's ``cosine`` and
    ``cosine_with_min_lr`` would follow the cosine back up; its other names hold too).
    ``num_warmup_steps < num_training_steps`` wherever the total is used.

    >>> s = hf("cosine", 1.0, num_warmup_steps=2, num_training_steps=6)
    >>> [round(s(t), 6) for t in range(7)]
    [0.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 0.0]
    """
    given = {
        "num_cycles": num_cycles,
        "lr_end": lr_end,
        "power": power,
        "timescale": timescale,
        "min_lr": min_lr,
        "min_lr_rate": min_lr_rate,
        "num_decay_steps": num_decay_steps,
        "num_stable_steps": num_stable_steps,
        "warmup_type": warmup_type,
        "decay_type": decay_type,
        "min_lr_ratio": min_lr_ratio,
    }
    own = NAMES[name]
    for key, value in given.items():
        if value is not None and key not in own:
            takes = ", ".join(own) if own else "none"
            raise SpecError(
                f"hf: {key} is not an argument of name={name!r} (its own arguments: {takes}), "
                f"got {key}={value!r}"
            )
    warm = num_warmup_steps
    if name == "constant" and warm:
        raise p.fail(
            "hf", "num_warmup_steps", "0 with name='constant' (use 'constant_with_warmup')", warm
        )
    total = num_training_steps
    if name == "warmup_stable_decay":
        return _wsd(lr, warm, total, given)
    if name in _NEEDS_TOTAL:
        if total is None:
            raise SpecError(
                f"hf: num_training_steps (the whole run, warmup included) is required with "
                f"name={name!r}, got None"
            )
        if warm >= total:
            raise p.fail("hf", "num_warmup_steps", f"< num_training_steps ({total})", warm)
    after = _after_warmup(name, lr, warm, total, given)
    if not warm:
        return after

    def evaluate(t: Any, xp: Any) -> Any:
        ramp = lr * (xp.minimum(t, warm) / warm)
        return xp.where(t < warm, ramp, after(xp.maximum(t - warm, 0.0), xp))

    return evaluate


def _after_warmup(
    name: str, lr: float, warm: int, total: int | None, given: Mapping[str, Any]
) -> Evaluator:
    """The rate ``n = t - warm`` steps after the warmup (``n >= 0``)."""
    if name in ("constant", "constant_with_warmup"):
        return lambda n, xp: xp.zeros_like(n) + lr
    if name == "inverse_sqrt":
        timescale = given["timescale"] if given["timescale"] is not None else (warm or 10_000)
        return lambda n, xp: lr / xp.sqrt(1 + n / timescale)
    assert total is not None  # checked by the caller for every name below
    span = total - warm
    if name == "linear":
        return lambda n, xp: lr * ((span - xp.minimum(n, span)) / span)
    if name == "polynomial":
        end = 1e-7 if given["lr_end"] is None else given["lr_end"]
        power = 1.0 if given["power"] is None else given["power"]
        if not end < lr:
            raise p.fail("hf", "lr_end", f"< lr ({lr!r}) with name='polynomial'", end)
        return lambda n, xp: (lr - end) * ((span - xp.minimum(n, span)) / span) ** power + end
    if name == "cosine_with_restarts":
        cycles = 1.0 if given["num_cycles"] is None else given["num_cycles"]
        if not float(cycles).is_integer():
            raise p.fail(
                "hf", "num_cycles", "a positive integer with name='cosine_with_restarts'", cycles
            )
        return _restarts(lr, span, cycles)
    cycles = 0.5 if given["num_cycles"] is None else given["num_cycles"]
    floor = 0.0
    if name == "cosine_with_min_lr":
        absolute, ratio = given["min_lr"], given["min_lr_rate"]
        if (absolute is None) == (ratio is None):
            raise SpecError(
                "hf: name='cosine_with_min_lr' needs exactly one of min_lr and min_lr_rate, "
                f"got min_lr={absolute!r}, min_lr_rate={ratio!r}"
            )
        floor = absolute if absolute is not None else ratio * lr
    return lambda n, xp: floor + (lr - floor) * _wave(xp.minimum(n, span), span, cycles, xp)


def _wave(done: Any, total: int, cycles: float, xp: Any) -> Any:
    """``(1 + cos(2 pi cycles done / total)) / 2``, as ``sin**2`` of the distance to the next
    zero (full relative precision where it approaches 0 on the half-cosine ``cycles = 0.5``)."""
    if cycles == 0.5:
        return half_cosine(total - done, total, xp)
    u = cycles * (done / total)  # cos(pi u)**2; zeros at half-integers u
    d = u - xp.floor(u + 0.5)
    return xp.sin(math.pi * (0.5 - xp.abs(d))) ** 2


def _restarts(lr: float, span: int, cycles: float) -> Evaluator:
    """``cycles`` cosines from ``lr`` to 0 over ``span`` steps, 0 after: at ``n`` steps the cycle
    is ``k = floor(cycles n / span)`` and the fraction of it still left is
    ``(span (k + 1) - cycles n) / span``, formed exactly for integer steps."""

    def after(n: Any, xp: Any) -> Any:
        scaled = cycles * xp.minimum(n, span)
        k = floor_div(scaled, span, xp)
        value = lr * half_cosine(span * (k + 1) - scaled, span, xp)
        return xp.where(n >= span, 0.0, value)

    return after


def _wsd(lr: float, warm: int, total: int | None, given: Mapping[str, Any]) -> Evaluator:
    """Hugging Face ``get_wsd_schedule``: warmup, stable, decay, then the floor."""
    decay = given["num_decay_steps"]
    if decay is None:
        raise SpecError("hf: num_decay_steps is required with name='warmup_stable_decay', got None")
    stable = given["num_stable_steps"]
    if stable is None:
        if total is None:
            raise SpecError(
                "hf: name='warmup_stable_decay' needs num_training_steps or num_stable_steps, "
                "got neither"
            )
        stable = total - warm - decay
        if stable < 0:
            raise SpecError(
                f"hf: num_warmup_steps + num_decay_steps must be <= num_training_steps "
                f"({total}), got {warm} + {decay}"
            )
    elif total is not None and warm + stable + decay != total:
        raise SpecError(
            "hf: num_warmup_steps + num_stable_steps + num_decay_steps must equal "
            f"num_training_steps ({total}) when both are given, got {warm} + {stable} + {decay}"
        )
    rise = given["warmup_type"] or "linear"
    fall = given["decay_type"] or "cosine"
    cycles = 0.5 if given["num_cycles"] is None else given["num_cycles"]
    floor = lr * (given["min_lr_ratio"] or 0.0)
    span = lr - floor
    decay_start = warm + stable
    end = decay_start + decay

    def warmup_factor(t: Any, xp: Any) -> Any:
        if rise == "linear":
            return t / warm
        if rise == "cosine":
            return half_cosine(t, warm, xp)  # (1 - cos(pi t / warm)) / 2
        return (t / warm) / (1 + xp.sqrt((warm - t) / warm))  # 1 - sqrt(1 - t / warm)

    def decay_factor(done: Any, xp: Any) -> Any:
        left = decay - done
        if fall == "linear":
            return left / decay
        if fall == "cosine":
            return _wave(done, decay, cycles, xp)
        return (left / decay) / (1 + xp.sqrt(done / decay))  # 1 - sqrt(done / decay)

    def evaluate(t: Any, xp: Any) -> Any:
        value = xp.zeros_like(t) + floor
        if decay:
            done = xp.clip(t - decay_start, 0.0, decay)
            value = xp.where(t < end, floor + span * decay_factor(done, xp), value)
        value = xp.where(t < decay_start, lr, value)
        if warm:
            ramp = floor + span * warmup_factor(xp.minimum(t, warm), xp)
            value = xp.where(t < warm, ramp, value)
        return value

    return evaluate
