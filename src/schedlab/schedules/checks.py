"""Pitfall checks: static analysis of a schedule against the run it is meant for (numpy only).

:func:`check` evaluates the schedule at every step of the run (``t = 0 .. steps-1``, in the unit the
schedule is stepped in: epochs or optimizer steps) and inspects its structure.  Each finding is
a :class:`Finding` with a stable id, a message and a suggested fix *as a spec* (text form, accepted
by :func:`schedlab.from_spec`).

====== =====================================================================================
id     pitfall
====== =====================================================================================
SL001  the rate reaches its final floor long before the end of the run (decays too early)
SL002  steps trained at a rate of exactly zero (a zero floor reached inside the run)
SL003  no warmup for a transformer-like model, or for very large batches
SL004  cosine decay on a very short run (few distinct rates; linear decay does as well)
SL005  a cyclical schedule for final (production) training: it does not end annealed
SL006  epoch/iteration unit mix-up: the horizon is ``steps_per_epoch`` times off the run length
SL007  the schedule's horizon lies far beyond the run: the planned decay never happens
SL008  an SGD-scale peak rate used with Adam
====== =====================================================================================

The checks know no parameter names: they ask each kind (:func:`schedlab.schedules.kind_info`)
which of its parameters are learning rates, step counts or step positions (their
:class:`~schedlab.schedules.params.Role`), what its horizon is (:attr:`Schedule.horizon`) and
whether it is periodic.

A fix is only suggested once it is checked: it parses, it differs from the schedule, and on it
(on the run it is written for, see :attr:`Finding.fix_unit`) the fixed pitfall is gone and no
pitfall appears that the schedule did not have, except of a later *tier*: converting units
(SL006) may reveal any other pitfall, replacing a cosine or a cyclical schedule (SL004, SL005) a
missing warmup, an Adam rate or a length problem, adding a warmup or scaling the rates (SL003,
SL008) a length problem; fitting the length (SL001, SL002, SL007) reveals nothing.  So following
fixes ends (each step trades a finding for findings of later tiers only) and never goes back and
forth.  Where no candidate passes, the pitfall is not reported (it has no fix this module can
offer).  Rates a fix
computes are rounded to 6 significant digits (no ``0.024999999999999994``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from schedlab.errors import SpecError
from schedlab.schedules.base import KINDS, Schedule
from schedlab.schedules.params import LEARNING_RATES, Role
from schedlab.schedules.spec import from_spec
from schedlab.validate import is_int

OPTIMIZERS = ("sgd", "adam", "adamw")
UNITS = ("epoch", "step")
TRANSFORMER_MODELS = ("vit", "transformer", "bert", "gpt", "llm", "t5", "llama")
LARGE_BATCH = 1024  # from here on warmup is customary (Goyal et al. 2017, large-batch folklore)
SHORT_RUN = 20  # cosine over fewer distinct rates than this is no better than a line
ADAM_MAX_LR = 0.01  # above this an Adam rate is almost surely an SGD rate
MAX_STEPS = 10_000_000
EARLY = 0.7  # reaching the floor before this fraction of the run is "too early"
DIGITS = 6  # significant digits of a rate a fix computes (drops float noise)
FINE = 12  # significant digits of a length or a factor per step a fix computes
ROUGH = 3  # significant digits of a rate a fix reads off the curve (a peak, a floor)


@dataclass(frozen=True)
class Finding:
    """One pitfall found: ``id`` (``SL00x``), ``severity`` (``warning``), a one-line ``title``,
    a ``message`` with the numbers, and ``fix``: a spec (text form) that avoids it.

    ``fix_unit`` is ``None`` when the fix is written in the run's own unit, else the unit it is
    written in (``"step"``: SL004 on a run counted in epochs suggests stepping the schedule per
    optimizer step; the message says so).  :meth:`RunContext.in_unit` gives that run.
    """

    id: str
    title: str
    message: str
    fix: str
    severity: str = "warning"
    fix_unit: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
            "fix_unit": self.fix_unit,
        }


@dataclass(frozen=True)
class RunContext:
    """What the schedule is used for.

    ``steps``: run length in the schedule's unit; ``steps_per_epoch``: optimizer steps per
    epoch (``None`` if unknown); ``optimizer``: ``sgd``/``adam``/``adamw`` or ``None``;
    ``batch_size`` and ``model`` (``vit``, ``mlp``, ...) or ``None``; ``final``: the run is the
    final (production) training, not an exploration; ``unit``: what the schedule's step counts,
    ``"epoch"`` or ``"step"`` (optimizer steps), or ``None`` if unknown.
    """

    steps: int
    steps_per_epoch: int | None = None
    optimizer: str | None = None
    batch_size: int | None = None
    model: str | None = None
    final: bool = True
    unit: str | None = None

    def __post_init__(self) -> None:
        _positive_int("steps", self.steps, MAX_STEPS)
        if self.steps_per_epoch is not None:
            _positive_int("steps_per_epoch", self.steps_per_epoch, MAX_STEPS)
        if self.batch_size is not None:
            _positive_int("batch_size", self.batch_size, 10**9)
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise SpecError(
                f"check: optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise SpecError(f"check: model must be a non-empty string; got {self.model!r}")
        if self.unit is not None and self.unit not in UNITS:
            raise SpecError(f"check: unit must be one of {', '.join(UNITS)}; got {self.unit!r}")

    @property
    def unit_word(self) -> str:
        """``"epoch"`` or ``"step"``: the word for one step of this run (``"step"`` if unknown)."""
        return self.unit or "step"

    def in_unit(self, unit: str | None) -> RunContext:
        """This run counted in ``unit`` (``None``: as it is): an epoch run ``in_unit("step")`` has
        ``steps * steps_per_epoch`` optimizer steps."""
        if unit is None or unit == self.unit:
            return self
        if unit != "step" or self.unit != "epoch" or not self.steps_per_epoch:
            raise SpecError(
                f"check: a run counted in {self.unit!r} cannot be counted in {unit!r} "
                f"(steps_per_epoch={self.steps_per_epoch!r})"
            )
        return replace(self, steps=self.steps * self.steps_per_epoch, unit="step")


def _positive_int(name: str, value: Any, limit: int) -> None:
    if not is_int(value) or not 0 < value <= limit:
        raise SpecError(f"check: {name} must be an integer in [1, {limit}]; got {value!r}")


def check(spec: Any, context: RunContext) -> list[Finding]:
    """All pitfalls of schedule ``spec`` (anything :func:`from_spec` takes) for ``context``.

    >>> [f.id for f in check("cosine(lr=0.1, steps=10)", RunContext(steps=100))]
    ['SL001', 'SL002']
    """
    schedule = from_spec(spec)
    values = _curve(schedule, context)
    found = {rule.id: rule.detect(schedule, values, context) for rule in RULES}
    present = frozenset(k for k, v in found.items() if v is not None)
    findings = []
    for rule in RULES:
        if rule.id in present:
            later = frozenset(r.id for r in RULES if r.tier > rule.tier)
            fixing = _Fixing(schedule, context, (present | later) - {rule.id})
            finding = rule.report(schedule, values, context, found[rule.id], fixing)
            if finding is not None:
                findings.append(finding)
    return findings


def _curve(schedule: Schedule, ctx: RunContext) -> np.ndarray:
    return np.asarray(schedule(np.arange(ctx.steps, dtype=np.float64)))


# --- schedule transforms used by the fixes ---------------------------------------------------------

#: ``fn(node, role, value)`` for one parameter of one (possibly nested) schedule ``node``.
ParamFn = Callable[[Schedule, Role, Any], Any]


def _map_params(schedule: Schedule, fn: ParamFn) -> Schedule:
    """Rebuild ``schedule`` with ``fn(node, role, value)`` applied to every parameter that is not
    a schedule, in nested schedules too (``SpecError`` if the result is not a valid schedule)."""
    kind = KINDS[schedule.kind]
    out: dict[str, Any] = {"kind": schedule.kind}
    for name, value in schedule.params.items():
        role = kind.params[name].role
        if isinstance(value, Schedule):
            value = _map_params(value, fn)
        elif role is Role.SCHEDULES:
            value = [_map_params(v, fn) for v in value]
        elif value is not None:
            value = fn(schedule, role, value)
        out[name] = value
    return from_spec(out)


def _sig(x: float, digits: int = DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits (``0.024999999999999994`` -> ``0.025``)."""
    return float(f"{x:.{digits}g}")


def _strictly_increasing(values: list[float]) -> list[int]:
    out: list[int] = []
    for v in values:
        iv = max(0, round(v))
        out.append(iv if not out or iv > out[-1] else out[-1] + 1)
    return out


def _stretcher(factor: float, safe: bool) -> ParamFn:
    """Scale lengths in steps by ``factor``.  Counts round to the nearest step, or, ``safe``,
    totals (> 0) up and phases (>= 0) down, so that phases still fit in their totals."""
    up = math.ceil if safe else round
    down = math.floor if safe else round

    def fn(node: Schedule, role: Role, value: Any) -> Any:
        if role is Role.STEPS:
            return max(1, up(value * factor))
        if role is Role.COUNT:
            return max(0, down(value * factor))
        if role is Role.DURATION:
            return _sig(value * factor, FINE)
        if role is Role.STEP_LIST:
            return _strictly_increasing([v * factor for v in value])
        if role is Role.POINTS:
            xs = _strictly_increasing([x * factor for x, _ in value])
            return [[x, y] for x, (_, y) in zip(xs, value, strict=True)]
        if role is Role.FACTOR_PER_STEP:  # gamma**t at the stretched step t * factor
            return _sig(value ** (1 / factor), FINE)
        return value

    return fn


def stretch(spec: Any, factor: float) -> Schedule:
    """The schedule with every length in steps multiplied by ``factor``: ``s'(t) ~ s(t / factor)``.

    Used to convert a schedule between epochs and optimizer steps (``factor = steps_per_epoch``
    turns an epoch schedule into a per-step one) or to fit it to another run length.  Step counts
    are rounded (up for totals, down for phases if the nearest steps would not fit together).
    """
    if not (isinstance(factor, (int, float)) and 0 < factor < math.inf):
        raise SpecError(f"stretch: factor must be a finite number > 0; got {factor!r}")
    schedule = from_spec(spec)
    try:
        return _map_params(schedule, _stretcher(factor, safe=False))
    except SpecError:
        return _map_params(schedule, _stretcher(factor, safe=True))


def scale_rates(spec: Any, factor: float) -> Schedule:
    """The schedule with every learning rate multiplied by ``factor`` (shape unchanged)."""

    def fn(node: Schedule, role: Role, value: Any) -> Any:
        if role in LEARNING_RATES:
            return _sig(value * factor)
        if role is Role.LR_LIST:
            return [_sig(v * factor) for v in value]
        if role is Role.POINTS:
            return [[x, _sig(y * factor)] for x, y in value]
        return value

    return _map_params(from_spec(spec), fn)


def _peak(node: Schedule) -> float:
    """The largest learning rate among ``node``'s own parameters (0 if it has none)."""
    kind = KINDS[node.kind]
    found = [0.0]
    for name, value in node.params.items():
        role = kind.params[name].role
        if role in LEARNING_RATES and value is not None:
            found.append(value)
        elif role is Role.LR_LIST:
            found.extend(value)
        elif role is Role.POINTS:
            found.extend(y for _, y in value)
    return max(found)


def _lift_after_peak(levels: list[float], fraction: float) -> list[float]:
    top = max(levels)
    at = levels.index(top)
    return [v if i <= at or v else _sig(top * fraction) for i, v in enumerate(levels)]


def with_floor(spec: Any, floor_fraction: float = 0.01) -> Schedule:
    """The schedule with every zero floor (a zero :data:`Role.FLOOR_LR`, a zero level after the
    highest one) raised to ``floor_fraction`` of the peak rate of its schedule."""

    def fn(node: Schedule, role: Role, value: Any) -> Any:
        if role is Role.FLOOR_LR and value == 0:
            return _sig(_peak(node) * floor_fraction)
        if role is Role.LR_LIST:
            return _lift_after_peak(value, floor_fraction)
        if role is Role.POINTS:
            ys = _lift_after_peak([y for _, y in value], floor_fraction)
            return [[x, y] for (x, _), y in zip(value, ys, strict=True)]
        return value

    return _map_params(from_spec(spec), fn)


def _replace_kind(schedule: Schedule, kind: str, fn: Callable[[Schedule], Schedule]) -> Schedule:
    """``schedule`` with every node of ``kind`` replaced by ``fn(node)``."""
    if schedule.kind == kind:
        return fn(schedule)
    out: dict[str, Any] = {"kind": schedule.kind}
    for name, value in schedule.params.items():
        if isinstance(value, Schedule):
            value = _replace_kind(value, kind, fn)
        elif isinstance(value, list) and value and isinstance(value[0], Schedule):
            value = [_replace_kind(v, kind, fn) for v in value]
        out[name] = value
    return from_spec(out)


def kinds_in(schedule: Schedule) -> set[str]:
    """Every kind used in ``schedule``, nested ones included."""
    found = {schedule.kind}
    for value in schedule.params.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Schedule):
                found |= kinds_in(item)
    return found


def _periodic(schedule: Schedule) -> bool:
    return any(KINDS[k].periodic for k in kinds_in(schedule))


def compact_text(schedule: Schedule) -> str:
    """The text form without parameters left at their defaults: ``cosine(lr=0.1, steps=100)``."""
    params = KINDS[schedule.kind].params
    args = []
    for name, value in schedule.params.items():
        param = params[name]
        default = param.default
        same = value == default and isinstance(value, bool) == isinstance(default, bool)
        if not param.required and (same or (default is None and value is None)):
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

#: ``detect(schedule, values, ctx)``: what a rule found (``None``: nothing); ``values`` is the curve
#: over the run.  ``report(schedule, values, ctx, found, fixing)``: the :class:`Finding`, with a fix
#: checked by ``fixing`` (``None`` when no candidate fix passes).
Detect = Callable[[Schedule, np.ndarray, RunContext], Any]
Report = Callable[[Schedule, np.ndarray, RunContext, Any, "_Fixing"], "Finding | None"]


@dataclass(frozen=True)
class Rule:
    """A pitfall: its id, its tier (a fix may reveal pitfalls of later tiers), how to detect it
    and how to report it with a fix."""

    id: str
    tier: int
    detect: Detect
    report: Report


def _detected(schedule: Schedule, ctx: RunContext) -> frozenset[str]:
    values = _curve(schedule, ctx)
    return frozenset(r.id for r in RULES if r.detect(schedule, values, ctx) is not None)


@dataclass(frozen=True)
class _Fixing:
    """Checks candidate fixes of one finding of ``schedule``: a fix must build, differ from the
    schedule, and have no pitfall but ``allowed`` ones (the schedule's other findings and those
    of later tiers)."""

    schedule: Schedule
    ctx: RunContext
    allowed: frozenset[str]

    def first(
        self, candidates: Iterable[Callable[[], Schedule]], ctx: RunContext | None = None
    ) -> Schedule | None:
        """The first candidate that passes, judged on the run ``ctx`` (default: this run)."""
        for make in candidates:
            try:
                fixed = make()
            except SpecError:
                continue
            if fixed != self.schedule and _detected(fixed, ctx or self.ctx) <= self.allowed:
                return fixed
        return None


def _decay_floor_step(values: np.ndarray) -> tuple[int, float, float] | None:
    """(first step from which the curve stays at its final value, peak, final) for a decaying curve.

    "At the final value": within 10% of it (a decay over decades, on a log scale) and within 5%
    of the decay's range (a curve still decaying slowly at the end of a short run is not at its
    floor: it is within 10% of its last value all along).
    """
    peak, final = float(values.max()), float(values[-1])
    if not peak > final * 1.05 + 1e-300:
        return None
    tol = min(0.1 * final + 1e-3 * peak, 0.05 * (peak - final))
    off = values - final > tol
    if not off.any():
        return None
    return int(np.flatnonzero(off)[-1] + 1), peak, final


# SL001 ------------------------------------------------------------------------------------------


def floor_too_early(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> int | None:
    """SL001: the step from which the curve sits at its final value, when that is more than the
    last 30% of the run *and* more than its last step (on a very short run the last step always
    is: a decay fitted to 3 steps reaches its floor at step 2 of 3)."""
    found = _decay_floor_step(values)
    if found is None or _periodic(schedule):
        return None
    reached = found[0]
    at_floor = ctx.steps - reached
    return reached if at_floor > max(1.0, (1 - EARLY) * ctx.steps) else None


def _fits(schedule: Schedule, ctx: RunContext, reached: int | None) -> Iterator[Callable]:
    """Stretches of ``schedule`` that may fit it to the run: its horizon at the run's end, or its
    floor reached later (at 80% .. 100% of the run and beyond, for step-wise and open decays)."""
    h = schedule.horizon
    factors = [c * ctx.steps / h for c in (1.0, 0.9, 0.8, 0.75)] if h else []
    if reached:
        factors += [c * ctx.steps / reached for c in (0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0)]
    for factor in factors:
        yield lambda factor=factor: stretch(schedule, factor)


def too_early(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, reached: int, fixing: _Fixing
) -> Finding | None:
    fixed = fixing.first(_fits(schedule, ctx, reached))
    if fixed is None:
        return None
    unit = ctx.unit_word
    return Finding(
        "SL001",
        "decays to its floor too early",
        f"the rate reaches its floor {_fmt(float(values[-1]))} at {unit} {reached} of {ctx.steps} "
        f"({100 * reached / ctx.steps:.0f}% of the run) and stays there: the last "
        f"{ctx.steps - reached} {unit}s train at the floor. Fit the decay to the run length.",
        _text(fixed),
    )


# SL002 ------------------------------------------------------------------------------------------


def zeros_after_peak(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> int | None:
    """SL002: how many steps after the peak have a rate of exactly 0 (not for a curve that is 0
    everywhere: it has no floor to keep)."""
    top = int(np.argmax(values))
    zeros = int(np.count_nonzero(values[top:] == 0.0))
    return zeros if zeros and values[top] > 0 else None


def zero_rate(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, zeros: int, fixing: _Fixing
) -> Finding | None:
    found = _decay_floor_step(values)
    candidates = [lambda: with_floor(schedule), *_fits(schedule, ctx, found and found[0])]
    fixed = fixing.first(candidates)
    if fixed is None:
        return None
    unit = ctx.unit_word
    return Finding(
        "SL002",
        "trains at a rate of exactly zero",
        f"{zeros} of {ctx.steps} {unit}s after the peak use a learning rate of exactly 0, so they "
        "do not train at all; keep a small floor (1% of the peak) or end the decay at the last "
        f"{unit}.",
        _text(fixed),
    )


# SL003 ------------------------------------------------------------------------------------------


def _has_warmup(values: np.ndarray) -> bool:
    """The curve starts at half its peak or lower and rises during the first quarter of the run."""
    head = values[: max(2, len(values) // 4)]
    return bool(values[0] <= 0.5 * values.max() and head.argmax() > 0)


def warmup_missing(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> str | None:
    """SL003: why a warmup is needed (a transformer-like model, a very large batch) when the
    curve starts at a positive peak without one."""
    model = (ctx.model or "").lower()
    transformer = any(name in model for name in TRANSFORMER_MODELS)
    large = ctx.batch_size is not None and ctx.batch_size >= LARGE_BATCH
    if not (transformer or large) or ctx.steps < 10 or values[0] <= 0 or _has_warmup(values):
        return None
    if transformer:
        return f"a transformer-like model ({ctx.model})"
    return f"a large batch ({ctx.batch_size} >= {LARGE_BATCH})"


def no_warmup(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, why: str, fixing: _Fixing
) -> Finding | None:
    warm = max(1, round(0.05 * ctx.steps))
    h = schedule.horizon

    def warmed(shrink: bool) -> Schedule:
        inner = stretch(schedule, (ctx.steps - warm) / ctx.steps) if shrink else schedule
        return from_spec({"kind": "warmup", "schedule": inner, "steps": warm})

    candidates = [lambda: warmed(True)] if h is not None and h >= ctx.steps else []
    fixed = fixing.first([*candidates, lambda: warmed(False)])
    if fixed is None:
        return None
    unit = ctx.unit_word
    return Finding(
        "SL003",
        "no warmup",
        f"the rate starts at its peak {_fmt(float(values[0]))} with {why}; early updates with a "
        "full rate are unstable there (adaptive-optimizer variance, large-batch sharpness). Ramp "
        f"it up over about 5% of the run ({warm} {unit}s).",
        _text(fixed),
    )


# SL004 ------------------------------------------------------------------------------------------


def cosine_too_short(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> bool | None:
    """SL004: a ``cosine`` stepped fewer than ``SHORT_RUN`` times."""
    return True if "cosine" in kinds_in(schedule) and ctx.steps < SHORT_RUN else None


def _cosine_as_line(node: Schedule) -> Schedule:
    q = node.params
    return from_spec(
        {"kind": "linear", "start_lr": q["lr"], "end_lr": q["min_lr"], "steps": q["steps"]}
    )


def short_cosine(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, _: Any, fixing: _Fixing
) -> Finding | None:
    spe = ctx.steps_per_epoch
    head = (
        f"a cosine over only {ctx.steps} {ctx.unit_word}s takes {ctx.steps} distinct rates, a "
        "coarse staircase whose shape barely differs from a line"
    )
    if ctx.unit == "epoch" and spe and spe > 1 and SHORT_RUN <= ctx.steps * spe <= MAX_STEPS:
        per_step = ctx.in_unit("step")
        candidates = [lambda: stretch(schedule, spe)]
        fixed = fixing.first(candidates, per_step)
        if fixed is not None:
            return Finding(
                "SL004",
                "cosine on a very short run",
                f"{head}; step it per optimizer step instead: the fix counts optimizer steps, not "
                f"epochs ({ctx.steps} epochs x {spe} steps per epoch = {per_step.steps} steps), "
                "so run it with unit='step' (or keep epochs and use a linear decay).",
                _text(fixed),
                fix_unit="step",
            )
    candidates = [lambda: _replace_kind(schedule, "cosine", _cosine_as_line)]
    fixed = fixing.first(candidates)
    if fixed is None:
        return None
    return Finding(
        "SL004",
        "cosine on a very short run",
        f"{head}; a linear decay over the same {ctx.unit_word}s is as good and simpler to reason "
        "about.",
        _text(fixed),
    )


# SL005 ------------------------------------------------------------------------------------------


def _range_after_peak(values: np.ndarray) -> tuple[float, float]:
    """(peak, lowest value from the peak on): the range a warmup before the peak is not part of."""
    top = int(np.argmax(values))
    return float(values[top]), float(values[top:].min())


def still_cycling(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> int | None:
    """SL005: the number of restarts of a periodic schedule in a final run that does not end
    annealed (0 restarts: it ends high in its first cycle, against its range from the peak on)."""
    if not ctx.final or not _periodic(schedule):
        return None
    peak, low = _range_after_peak(values)
    slope = np.sign(np.diff(values))
    slope = slope[slope != 0]
    restarts = int(np.count_nonzero((slope[:-1] < 0) & (slope[1:] > 0)))
    if peak <= low or (restarts == 0 and values[-1] <= low + 0.1 * (peak - low)):
        return None
    return restarts


def cyclical_final(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, restarts: int, fixing: _Fixing
) -> Finding | None:
    peak, low = _range_after_peak(values)
    one_cycle = {"kind": "one_cycle", "max_lr": _sig(peak, ROUGH), "steps": ctx.steps}
    cosine = {
        "kind": "cosine",
        "lr": _sig(peak, ROUGH),
        "steps": ctx.steps,
        "min_lr": _sig(low, ROUGH),
    }
    specs = [one_cycle, cosine] if "cyclic" in kinds_in(schedule) else [cosine, one_cycle]
    candidates = [lambda s=s: from_spec(s) for s in specs]
    fixed = fixing.first(candidates)
    if fixed is None:
        return None
    return Finding(
        "SL005",
        "cyclical schedule for final training",
        f"the rate restarts {restarts} time(s) and ends at {_fmt(float(values[-1]))} "
        f"(its range is {_fmt(low)}..{_fmt(peak)}): cyclical schedules explore, but a final "
        "model should be taken at the end of one long anneal.",
        _text(fixed),
    )


# SL006 ------------------------------------------------------------------------------------------


def units_mixed(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> float | None:
    """SL006: the stretch factor that converts the schedule to the run's unit, when its horizon
    is about ``steps_per_epoch`` times the run length or its inverse.  With the run's unit known
    only one direction is possible (a run in epochs can only be fed a schedule written in
    optimizer steps, and the reverse)."""
    h = schedule.horizon
    spe = ctx.steps_per_epoch
    if not h or not spe or spe < 3:
        return None
    ratio = h / ctx.steps
    tol = math.log(1.5)
    if abs(math.log(ratio / spe)) < tol and ctx.unit != "step":
        return 1 / spe
    if abs(math.log(ratio * spe)) < tol and ctx.unit != "epoch":
        return float(spe)
    return None


def unit_mixup(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, factor: float, fixing: _Fixing
) -> Finding | None:
    fixed = fixing.first([lambda: stretch(schedule, factor)])
    if fixed is None:
        return None
    written, used = ("optimizer steps", "epochs") if factor < 1 else ("epochs", "optimizer steps")
    return Finding(
        "SL006",
        "epoch/iteration unit mix-up",
        f"the schedule's horizon is {schedule.horizon:g} steps but the run has {ctx.steps} "
        f"steps, about {ctx.steps_per_epoch} (steps per epoch) times "
        f"{'more' if factor < 1 else 'fewer'}: it looks written in {written} but stepped in "
        f"{used} (e.g. a Keras schedule decayed per batch). The fix counts {used}.",
        _text(fixed),
    )


# SL007 ------------------------------------------------------------------------------------------


def decay_missed(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> float | None:
    """SL007: the planned floor, when the horizon is more than 1.5x the run and the run ends far
    above that floor."""
    h = schedule.horizon
    if not h or h <= 1.5 * ctx.steps:
        return None
    full = _planned(schedule, h)
    peak, floor, last = float(full.max()), float(full[-1]), float(values[-1])
    return floor if last > floor + 0.25 * (peak - floor) else None


def _planned(schedule: Schedule, h: float) -> np.ndarray:
    """The curve over its horizon, up to just before it (a periodic one restarts at ``h``)."""
    return np.asarray(schedule(np.linspace(0.0, h, 513)[:-1]))


def never_decays(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, floor: float, fixing: _Fixing
) -> Finding | None:
    fixed = fixing.first(_fits(schedule, ctx, None))
    if fixed is None:
        return None
    h = schedule.horizon
    unit = ctx.unit_word
    return Finding(
        "SL007",
        "the decay never happens",
        f"the schedule's horizon is {h:g} {unit}s but the run stops at {ctx.steps} "
        f"({100 * ctx.steps / h:.0f}% of it): the run ends at {_fmt(float(values[-1]))}, far "
        f"above the planned floor {_fmt(floor)}. Fit the horizon to the run.",
        _text(fixed),
    )


# SL008 ------------------------------------------------------------------------------------------


def adam_peak_too_high(schedule: Schedule, values: np.ndarray, ctx: RunContext) -> float | None:
    """SL008: the peak rate, when it is above ``ADAM_MAX_LR`` with Adam."""
    peak = float(values.max())
    return peak if ctx.optimizer in ("adam", "adamw") and peak > ADAM_MAX_LR else None


def sgd_rate_with_adam(
    schedule: Schedule, values: np.ndarray, ctx: RunContext, peak: float, fixing: _Fixing
) -> Finding | None:
    candidates = [lambda: scale_rates(schedule, 1e-3 / peak)]
    fixed = fixing.first(candidates)
    if fixed is None:
        return None
    return Finding(
        "SL008",
        "SGD-scale rate used with Adam",
        f"the peak rate {_fmt(peak)} suits SGD; Adam normalises the step size per parameter and "
        "usually wants 1e-4..3e-3 (1e-3 is the default); the fix keeps the shape with a 1e-3 peak.",
        _text(fixed),
    )


RULES: tuple[Rule, ...] = (
    Rule("SL001", 3, floor_too_early, too_early),
    Rule("SL002", 3, zeros_after_peak, zero_rate),
    Rule("SL003", 2, warmup_missing, no_warmup),
    Rule("SL004", 1, cosine_too_short, short_cosine),
    Rule("SL005", 1, still_cycling, cyclical_final),
    Rule("SL006", 0, units_mixed, unit_mixup),
    Rule("SL007", 3, decay_missed, never_decays),
    Rule("SL008", 2, adam_peak_too_high, sgd_rate_with_adam),
)
