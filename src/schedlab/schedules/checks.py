"""Pitfall checks: static analysis of a schedule against the run it is meant for (numpy only).

:func:`check` evaluates the schedule at every step of the run (``t = 0 .. steps-1``, in the unit the
schedule is stepped in: epochs or optimizer iterations) and inspects its structure.  Each finding is
a :class:`Finding` with a stable id, a message and a suggested fix *as a spec* (text form, accepted
by :func:`schedlab.from_spec`).

====== =====================================================================================
id     pitfall
====== =====================================================================================
SL001  the rate reaches its final floor long before the end of the run (decays too early)
SL002  steps trained at a rate of exactly zero (a zero floor reached inside the run)
SL003  no warmup for a transformer-like model, for Adam with large batches, or very large batches
SL004  cosine decay on a very short run (few distinct rates; linear decay does as well)
SL005  a cyclical schedule for final (production) training: it does not end annealed
SL006  epoch/iteration unit mix-up: the horizon is ``steps_per_epoch`` times off the run length
SL007  the schedule's horizon lies far beyond the run: the planned decay never happens
SL008  an SGD-scale peak rate used with Adam
====== =====================================================================================
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedlab.schedules.base import KINDS, Schedule
from schedlab.schedules.spec import from_spec

OPTIMIZERS = ("sgd", "adam", "adamw")
TRANSFORMER_MODELS = ("vit", "transformer", "bert", "gpt", "llm", "t5", "llama")
LARGE_BATCH = (
    1024  # from here on warmup is customary (Goyal et al. 2017, Adam large-batch folklore)
)
SHORT_RUN = 20  # cosine over fewer distinct rates than this is no better than a line
ADAM_MAX_LR = 0.01  # above this an Adam rate is almost surely an SGD rate
MAX_STEPS = 10_000_000
EARLY = 0.7  # reaching the floor before this fraction of the run is "too early"

#: Parameters that count steps (scaled by :func:`stretch`), and those that are rates.
_STEP_PARAMS = {
    "steps",
    "step_size",
    "period",
    "every",
    "step_size_up",
    "step_size_down",
    "decay_steps",
    "warmup_steps",
    "timescale",
}
_POSITIVE_STEPS = {"steps", "step_size", "period", "every", "step_size_up", "step_size_down"}
_RATE_PARAMS = {"lr", "min_lr", "end_lr", "start_lr", "max_lr"}
_CYCLICAL = {"cyclic", "cosine_restarts"}
_COSINE = {"cosine", "cosine_restarts"}


@dataclass(frozen=True)
class Finding:
    """One pitfall found: ``id`` (``SL00x``), ``severity`` (``warning``), a one-line ``title``,
    a ``message`` with the numbers, and ``fix``: a spec (text form) that avoids it."""

    id: str
    title: str
    message: str
    fix: str
    severity: str = "warning"

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class RunContext:
    """What the schedule is used for.

    ``steps``: run length in the schedule's unit; ``steps_per_epoch``: optimizer iterations per
    epoch (``None`` if unknown); ``optimizer``: ``sgd``/``adam``/``adamw`` or ``None``;
    ``batch_size`` and ``model`` (``vit``, ``mlp``, ...) or ``None``; ``final``: the run is the
    final (production) training, not an exploration.
    """

    steps: int
    steps_per_epoch: int | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    model: str | None = None
    final: bool = True

    def __post_init__(self) -> None:
        _positive_int("steps", self.steps, MAX_STEPS)
        if self.steps_per_epoch is not None:
            _positive_int("steps_per_epoch", self.steps_per_epoch, MAX_STEPS)
        if self.batch_size is not None:
            _positive_int("batch_size", self.batch_size, 10**9)
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"check: optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise ValueError(f"check: model must be a non-empty string; got {self.model!r}")


def _positive_int(name: str, value: Any, limit: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not 0 < value <= limit
    ):
        raise ValueError(f"check: {name} must be an integer in [1, {limit}]; got {value!r}")


def check(spec: Any, context: RunContext) -> list[Finding]:
    """All pitfalls of schedule ``spec`` (anything :func:`from_spec` takes) for ``context``.

    >>> [f.id for f in check("cosine(lr=0.1, steps=10)", RunContext(steps=100))]
    ['SL001', 'SL002']
    """
    schedule = from_spec(spec)
    values = np.asarray(schedule(np.arange(context.steps, dtype=np.float64)))
    findings = []
    for rule in RULES:
        found = rule(schedule, values, context)
        if found is not None:
            from_spec(found.fix)  # every fix must parse: fail loudly here if one does not
            findings.append(found)
    return findings


# --- schedule transforms used by the fixes ---------------------------------------------------------


def _map_params(schedule: Schedule, fn: Callable[[str, str, Any], Any]) -> Schedule:
    """Rebuild ``schedule`` with ``fn(kind, name, value)`` applied to every parameter, nested ones too."""
    out: dict[str, Any] = {"kind": schedule.kind}
    for name, value in schedule.params.items():
        if isinstance(value, Schedule):
            value = _map_params(value, fn).spec()
        elif isinstance(value, list) and value and isinstance(value[0], Schedule):
            value = [_map_params(v, fn).spec() for v in value]
        else:
            value = fn(schedule.kind, name, value)
        out[name] = value
    return from_spec(out)


def _strictly_increasing(values: list[float]) -> list[int]:
    out: list[int] = []
    for v in values:
        iv = max(0, round(v))
        out.append(iv if not out or iv > out[-1] else out[-1] + 1)
    return out


def stretch(spec: Any, factor: float) -> Schedule:
    """The schedule with every step count multiplied by ``factor`` (rounded): ``s'(t) ~ s(t / factor)``.

    Used to convert a schedule between epochs and iterations (``factor = steps_per_epoch`` turns
    an epoch schedule into an iteration one) or to fit it to another run length.
    """
    if not (isinstance(factor, (int, float)) and 0 < factor < math.inf):
        raise ValueError(f"stretch: factor must be a finite number > 0; got {factor!r}")

    def fn(kind: str, name: str, value: Any) -> Any:
        if name in _STEP_PARAMS and value is not None:
            scaled = value * factor
            return max(1 if name in _POSITIVE_STEPS else 0, round(scaled))
        if name in ("milestones", "boundaries"):
            return _strictly_increasing([v * factor for v in value])
        if name == "points":
            xs = _strictly_increasing([x * factor for x, _ in value])
            return [[x, y] for x, (_, y) in zip(xs, value, strict=True)]
        return value

    return _map_params(from_spec(spec), fn)


def scale_rates(spec: Any, factor: float) -> Schedule:
    """The schedule with every rate parameter multiplied by ``factor`` (shape unchanged)."""

    def fn(kind: str, name: str, value: Any) -> Any:
        if name in _RATE_PARAMS:
            return value * factor
        if name == "values":
            return [v * factor for v in value]
        if name == "points":
            return [[x, y * factor] for x, y in value]
        return value

    return _map_params(from_spec(spec), fn)


def with_floor(spec: Any, floor_fraction: float = 0.01) -> Schedule:
    """The schedule with every zero ``min_lr``/``end_lr`` raised to ``floor_fraction`` of its peak."""

    def lift(s: Schedule) -> Schedule:
        def fn(kind: str, name: str, value: Any) -> Any:
            if name in ("min_lr", "end_lr") and value == 0:
                peak = max(s.params.get(k, 0.0) or 0.0 for k in ("lr", "max_lr", "start_lr"))
                return peak * floor_fraction
            return value

        out = {"kind": s.kind}
        for name, value in s.params.items():
            if isinstance(value, Schedule):
                out[name] = lift(value).spec()
            elif isinstance(value, list) and value and isinstance(value[0], Schedule):
                out[name] = [lift(v).spec() for v in value]
            else:
                out[name] = fn(s.kind, name, value)
        return from_spec(out)

    return lift(from_spec(spec))


def kinds_in(schedule: Schedule) -> set[str]:
    """Every kind used in ``schedule``, nested ones included."""
    found = {schedule.kind}
    for value in schedule.params.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Schedule):
                found |= kinds_in(item)
    return found


def horizon(schedule: Schedule) -> float | None:
    """The step at which the schedule's planned shape ends (``None`` for open-ended kinds).

    ``steps`` for cosine/polynomial/linear/one_cycle/wsd, the last milestone/boundary/point for
    piecewise kinds, warmup steps plus the inner horizon; ``None`` for constant, step, exponential,
    inverse_time, inverse_sqrt and the cyclical kinds.
    """
    p = schedule.params
    kind = schedule.kind
    if kind in ("polynomial", "linear", "cosine", "one_cycle", "wsd"):
        return None if kind == "polynomial" and p["cycle"] else float(p["steps"])
    if kind == "multistep":
        return float(p["milestones"][-1]) if p["milestones"] else None
    if kind == "piecewise_constant":
        return float(p["boundaries"][-1]) if p["boundaries"] else None
    if kind == "piecewise_linear":
        return float(p["points"][-1][0])
    if kind == "warmup":
        inner = horizon(p["schedule"])
        return None if inner is None else p["steps"] + inner
    if kind == "sequence":
        last = horizon(p["schedules"][-1])
        if last is None:
            return None
        return (p["boundaries"][-1] if p["boundaries"] else 0) + last
    if kind == "scale":
        parts = [horizon(p["schedule"])]
        if isinstance(p["by"], Schedule):
            parts.append(horizon(p["by"]))
        known = [h for h in parts if h is not None]
        return max(known) if known else None
    return None


def compact_text(schedule: Schedule) -> str:
    """The text form without parameters left at their defaults: ``cosine(lr=0.1, steps=100)``."""
    sig = inspect.signature(KINDS[schedule.kind])
    args = []
    for name, value in schedule.params.items():
        default = sig.parameters[name].default
        same = value == default and isinstance(value, bool) == isinstance(default, bool)
        if default is not inspect.Parameter.empty and (same or (default is None and value is None)):
            continue
        args.append(f"{name}={_value_text(value)}")
    return f"{schedule.kind}({', '.join(args)})"


def _value_text(value: Any) -> str:
    if isinstance(value, Schedule):
        return compact_text(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


_text = compact_text


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# --- the rules --------------------------------------------------------------------------------------

Rule = Callable[[Schedule, np.ndarray, RunContext], "Finding | None"]


def _decay_floor_step(values: np.ndarray) -> tuple[int, float, float] | None:
    """(first step from which the curve stays at its final value, peak, final) for a decaying curve."""
    peak, final = float(values.max()), float(values[-1])
    if not peak > final * 1.05 + 1e-300:
        return None
    off = values > final * 1.1 + 1e-3 * peak  # "at the floor": within 10% of it (log scale)
    if not off.any():
        return None
    return int(np.flatnonzero(off)[-1] + 1), peak, final


def too_early(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL001: the curve sits at its final value for more than the last 30% of the run."""
    found = _decay_floor_step(values)
    if found is None or kinds_in(schedule) & _CYCLICAL:
        return None
    reached, _, final = found
    if reached >= EARLY * ctx.steps:
        return None
    return Finding(
        "SL001",
        "decays to its floor too early",
        f"the rate reaches its floor {_fmt(final)} at step {reached} of {ctx.steps} "
        f"({100 * reached / ctx.steps:.0f}% of the run) and stays there: the last "
        f"{ctx.steps - reached} steps train at the floor. Fit the decay to the run length.",
        _text(_fit_floor(schedule, reached, ctx)),
    )


def _floor_reached(schedule: Schedule, steps: int) -> int:
    found = _decay_floor_step(np.asarray(schedule(np.arange(steps, dtype=np.float64))))
    return steps if found is None else found[0]


def _fit_floor(schedule: Schedule, reached: int, ctx: RunContext) -> Schedule:
    """Stretched so that the floor comes late: the horizon at the run's end (smooth decays), else
    the floor reached at 80% of the run (step-wise and open-ended decays)."""
    h = horizon(schedule)
    for factor in ([ctx.steps / h] if h else []) + [0.8 * ctx.steps / max(reached, 1)]:
        fitted = stretch(schedule, factor)
        if _floor_reached(fitted, ctx.steps) >= EARLY * ctx.steps:
            return fitted
    return fitted


def zero_rate(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL002: after the peak, some steps of the run use a rate of exactly 0."""
    after = values[int(np.argmax(values)) :]
    zeros = int(np.count_nonzero(after == 0.0))
    if zeros == 0:
        return None
    return Finding(
        "SL002",
        "trains at a rate of exactly zero",
        f"{zeros} of {ctx.steps} steps after the peak use a learning rate of exactly 0, so they "
        "do not train at all; keep a small floor (1% of the peak) or end the decay at the last step.",
        _text(with_floor(schedule)),
    )


def _has_warmup(values: np.ndarray) -> bool:
    head = values[: max(2, len(values) // 4)]
    return bool(head[0] <= 0.5 * head.max() and head.argmax() > 0)


def no_warmup(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL003: no warmup for a transformer-like model, Adam with large batches or huge batches."""
    model = (ctx.model or "").lower()
    transformer = any(name in model for name in TRANSFORMER_MODELS)
    large = ctx.batch_size is not None and ctx.batch_size >= LARGE_BATCH
    if not (transformer or large) or _has_warmup(values) or ctx.steps < 10:
        return None
    why = (
        f"a transformer-like model ({ctx.model})"
        if transformer
        else (f"a large batch ({ctx.batch_size} >= {LARGE_BATCH})")
    )
    warm = max(1, round(0.05 * ctx.steps))
    h = horizon(schedule)
    inner = stretch(schedule, (ctx.steps - warm) / ctx.steps) if h and h >= ctx.steps else schedule
    return Finding(
        "SL003",
        "no warmup",
        f"the rate starts at its peak {_fmt(float(values[0]))} with {why}; early updates with a "
        "full rate are unstable there (adaptive-optimizer variance, large-batch sharpness). Ramp "
        f"it up over about 5% of the run ({warm} steps).",
        f"warmup({_text(inner)}, steps={warm})",
    )


def short_cosine(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL004: cosine decay over fewer than ``SHORT_RUN`` distinct rates."""
    if not kinds_in(schedule) & _COSINE or ctx.steps >= SHORT_RUN:
        return None
    peak, final = float(values.max()), float(values[-1])
    if ctx.steps_per_epoch:
        fix = _text(stretch(schedule, ctx.steps_per_epoch))
        advice = (
            f"step it per iteration instead ({ctx.steps * ctx.steps_per_epoch} steps, "
            "fix below) or use a linear decay"
        )
    else:
        floor = final if final > 0 else peak * 0.01
        fix = _text(
            from_spec({"kind": "linear", "start_lr": peak, "end_lr": floor, "steps": ctx.steps})
        )
        advice = "a linear decay is as good on so few steps and simpler to reason about"
    return Finding(
        "SL004",
        "cosine on a very short run",
        f"a cosine over only {ctx.steps} steps takes {ctx.steps} distinct rates, a coarse staircase "
        f"whose shape barely differs from a line; {advice}.",
        fix,
    )


def cyclical_final(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL005: a cyclical schedule for final training that does not end annealed."""
    if not ctx.final or not kinds_in(schedule) & _CYCLICAL:
        return None
    peak, low = float(values.max()), float(values.min())
    slope = np.sign(np.diff(values))
    slope = slope[slope != 0]
    restarts = int(np.count_nonzero((slope[:-1] < 0) & (slope[1:] > 0)))
    if peak <= low or (restarts == 0 and values[-1] <= low + 0.1 * (peak - low)):
        return None
    fix = (
        from_spec({"kind": "one_cycle", "max_lr": peak, "steps": ctx.steps})
        if ("cyclic" in kinds_in(schedule))
        else from_spec(
            {"kind": "cosine", "lr": peak, "steps": ctx.steps, "min_lr": float(f"{low:.3g}")}
        )
    )
    return Finding(
        "SL005",
        "cyclical schedule for final training",
        f"the rate restarts {restarts} time(s) and ends at {_fmt(float(values[-1]))} "
        f"(its range is {_fmt(low)}..{_fmt(peak)}): cyclical schedules explore, but a final "
        "model should be taken at the end of one long anneal.",
        _text(fix),
    )


def unit_mixup(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL006: the horizon is ``steps_per_epoch`` times the run length (or its inverse)."""
    h = horizon(schedule)
    spe = ctx.steps_per_epoch
    if not h or not spe or spe < 3:
        return None
    ratio = h / ctx.steps
    tol = math.log(1.5)
    if abs(math.log(ratio / spe)) < tol:
        written, used, factor = "optimizer iterations", "epochs", 1 / spe
    elif abs(math.log(ratio * spe)) < tol:
        written, used, factor = "epochs", "optimizer iterations", spe
    else:
        return None
    return Finding(
        "SL006",
        "epoch/iteration unit mix-up",
        f"the schedule's horizon is {h:g} steps but the run has {ctx.steps} steps, about "
        f"{spe} (steps per epoch) times {'more' if factor < 1 else 'fewer'}: it looks written in "
        f"{written} but stepped in {used} (e.g. a Keras schedule decayed per batch).",
        _text(stretch(schedule, factor)),
    )


def never_decays(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL007: the horizon is more than 1.5x the run and the rate is still far from its floor."""
    h = horizon(schedule)
    if not h or h <= 1.5 * ctx.steps:
        return None
    full = np.asarray(schedule(np.linspace(0.0, h, 512)))
    peak, floor, last = float(full.max()), float(full[-1]), float(values[-1])
    if last <= floor + 0.25 * (peak - floor):
        return None
    return Finding(
        "SL007",
        "the decay never happens",
        f"the schedule's horizon is {h:g} steps but the run stops at {ctx.steps} "
        f"({100 * ctx.steps / h:.0f}% of it): the run ends at {_fmt(last)}, far above the planned "
        f"floor {_fmt(floor)}. Fit the horizon to the run.",
        _text(stretch(schedule, ctx.steps / h)),
    )


def sgd_rate_with_adam(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> Finding | None:
    """SL008: Adam with a peak rate above ``ADAM_MAX_LR`` (an SGD-scale rate)."""
    peak = float(values.max())
    if ctx.optimizer not in ("adam", "adamw") or peak <= ADAM_MAX_LR:
        return None
    factor = 1e-3 / peak
    return Finding(
        "SL008",
        "SGD-scale rate used with Adam",
        f"the peak rate {_fmt(peak)} suits SGD; Adam normalises the step size per parameter and "
        "usually wants 1e-4..3e-3 (1e-3 is the default); the fix keeps the shape with a 1e-3 peak.",
        _text(scale_rates(schedule, factor)),
    )


RULES: tuple[Rule, ...] = (
    too_early,
    zero_rate,
    no_warmup,
    short_cosine,
    cyclical_final,
    unit_mixup,
    never_decays,
    sgd_rate_with_adam,
)
