"""The :class:`Schedule` value and the registry of schedule kinds.

A schedule maps a step ``t`` (0-based; an optimizer iteration or an epoch, whichever the caller
advances) to a learning rate.  It is an immutable value: two schedules with the same spec are equal,
whatever way they were built, and a schedule pickles as its spec.

Every kind is written as a pure function of its validated parameters that returns an *evaluator*
``evaluate(t, xp)``: ``t`` is an array of valid steps and ``xp`` an array namespace with numpy's names
(``numpy`` itself, or ``jax.numpy`` inside ``jax.jit``).  Evaluators are closed forms: no loop over
steps, no state.  :func:`schedule_kind` registers such a function as a :class:`Kind`, with what
the rest of the code may ask about it: each parameter's :class:`~schedlab.schedules.params.Role`
and default, the kind's horizon and whether it is periodic.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ParamSpec, get_type_hints

import numpy as np

from schedlab.errors import SpecError
from schedlab.schedules.params import Param, Role
from schedlab.validate import is_real

Evaluator = Callable[[Any, Any], Any]
Horizon = Callable[[Mapping[str, Any]], "float | None"]
P = ParamSpec("P")

#: The largest step a float64 can hold; Python ints beyond it are rejected, not overflowed.
_MAX_STEP = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class KindParam:
    """One parameter of a kind: its name, :class:`Role`, check, and its default unless it is
    ``required`` (then ``default`` is ``None`` and means nothing)."""

    name: str
    role: Role
    check: Param
    default: Any
    required: bool


@dataclass(frozen=True)
class Kind:
    """A registered schedule kind.

    ``make`` is the constructor (``schedlab.cosine``); ``params`` its parameters in signature
    order; ``horizon(params)`` the kind's horizon for a schedule's validated parameters (see
    :attr:`Schedule.horizon`); ``periodic``: the schedule restarts, cycle after cycle; ``sparse``:
    optional parameters left at ``None`` are not part of the schedule's spec.
    """

    name: str
    make: Callable[..., Schedule]
    params: Mapping[str, KindParam]
    horizon: Horizon
    periodic: bool = False
    sparse: bool = False


#: kind name -> :class:`Kind`, in the order the kinds are registered: the contract's table
#: (``schedules/__init__`` imports the kind modules in that order).
KINDS: dict[str, Kind] = {}


def kind_info(name: str) -> Kind:
    """The registered :class:`Kind` called ``name`` (``SpecError`` listing the kinds if none)."""
    try:
        return KINDS[name]
    except KeyError:
        raise SpecError(
            f"unknown schedule kind {name!r}; valid kinds: {', '.join(KINDS)}"
        ) from None


class Schedule:
    """A learning-rate schedule: a pure, vectorized function of the step.

    Build one with the kind functions (``schedlab.cosine(lr=0.1, steps=100)``) or
    :func:`schedlab.from_spec`.

    >>> import schedlab
    >>> s = schedlab.step(lr=0.1, step_size=10, gamma=0.5)
    >>> s(0), s(9), s(10)
    (0.1, 0.1, 0.05)
    """

    __slots__ = ("_evaluate", "_kind", "_params")

    def __init__(self, kind: str, params: Mapping[str, Any], evaluate: Evaluator) -> None:
        self._kind = kind
        self._params = MappingProxyType(dict(params))
        self._evaluate = evaluate

    @property
    def kind(self) -> str:
        """The kind's name, e.g. ``"cosine"``."""
        return self._kind

    @property
    def params(self) -> Mapping[str, Any]:
        """The validated parameters (read-only), nested schedules as :class:`Schedule` values."""
        return self._params

    def __call__(self, t: Any) -> Any:
        """Learning rate at step ``t``: a float for a scalar step, a float64 array for an array.

        Raises :class:`~schedlab.errors.SpecError` (a ``ValueError``) for negative, NaN or
        infinite steps, and for steps beyond float64's range, whatever their container: the
        Python int ``2**70`` and the list ``[2**70]`` are both valid steps, ``10**400`` is not.
        The message shows the offending step as it was given.
        """
        if type(t) is int or type(t) is float:
            if not 0 <= t < math.inf or t > _MAX_STEP:
                raise _bad_step(t)
            return _evaluate_scalar(self._evaluate, t)
        if isinstance(t, (bool, np.bool_)):
            raise _bad_step(t)
        try:
            raw = np.asarray(t)
        except (TypeError, ValueError):
            raw = np.asarray(None)
        if raw.dtype == object:  # Python ints beyond int64 (numpy keeps them as objects)
            raw = _big_ints(t, raw)
        if raw.dtype.kind not in "iuf":  # bools, strings, objects: no silent coercion
            raise SpecError(
                f"step must be a number or an array of numbers, got {t!r} (dtype {raw.dtype})"
            )
        # Checked in the input's dtype, without a float64 copy of every step; only a float wider
        # than float64 is narrowed first, so that a value beyond float64's range is caught.
        with np.errstate(over="ignore"):  # such a value becomes inf and is rejected below
            steps = raw if raw.dtype.itemsize <= 8 else raw.astype(np.float64)
        if steps.size:
            lo, hi = steps.min(), steps.max()
            if not (lo >= 0 and hi < math.inf):
                raise _bad_step(steps[~((steps >= 0) & (steps < math.inf))].flat[0])
        if steps.ndim == 0:
            return _evaluate_scalar(self._evaluate, steps[()])
        return _evaluate_in_blocks(self._evaluate, steps, np.float64)

    def evaluate(self, t: Any, xp: Any = np) -> Any:
        """Values at steps ``t`` that are already known to be valid, computed with namespace ``xp``.

        This is the hook for adapters: ``xp`` may be ``jax.numpy`` (traced inside ``jax.jit``).
        No step validation is done here; use ``__call__`` for untrusted input.  A numpy float32
        or float64 array gives values of its own dtype: float32 steps are the fast path to a
        float32 curve (about 1e-7 relative; steps are exact up to 2**24).
        """
        if xp is np and isinstance(t, np.ndarray) and t.ndim and t.dtype in _BLOCK_DTYPES:
            return _evaluate_in_blocks(self._evaluate, t, t.dtype)
        return self._evaluate(t, xp)

    @property
    def horizon(self) -> float | None:
        """The step at which the schedule is at its end: the length it was written for.

        Registered with each kind: ``steps`` for ``cosine``, ``linear``, ``polynomial``,
        ``one_cycle`` and ``wsd``; the last milestone, boundary or point of the piecewise kinds;
        one cycle for the periodic kinds (``period`` for ``cosine_restarts``,
        ``step_size_up + step_size_down`` for ``cyclic``); the warmup plus the inner horizon for
        ``warmup``, the last boundary plus the last schedule's for ``sequence``.  ``None`` for
        open-ended kinds (``constant``, ``step``, ``exponential``, ``inverse_time``,
        ``inverse_sqrt``, a cycling ``polynomial``) and for compositions whose end is open.

        >>> import schedlab
        >>> schedlab.warmup(schedlab.cosine(0.1, steps=90), steps=10).horizon
        100
        """
        return KINDS[self._kind].horizon(self._params)

    def spec(self) -> dict[str, Any]:
        """A JSON-serializable dict; ``from_spec(s.spec()) == s``."""
        return {"kind": self._kind, **{k: _to_spec(v) for k, v in self._params.items()}}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(json.dumps(self.spec(), sort_keys=True))

    def __repr__(self) -> str:
        """The text form with every parameter, e.g. ``cosine(lr=0.1, steps=100, min_lr=0.0)``;
        ``from_spec(repr(s)) == s``."""
        args = ", ".join(f"{k}={_to_text(v)}" for k, v in self._params.items())
        return f"{self._kind}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_spec_dict, (self.spec(),))

    # Arithmetic sugar: ``0.5 * s`` and ``s * other`` build a ``scale`` schedule.
    def __mul__(self, other: Any) -> Schedule:
        return KINDS["scale"].make(self, other)

    __rmul__ = __mul__


def _from_spec_dict(spec: Mapping[str, Any]) -> Schedule:
    """The schedule of ``spec()``'s dict (how a schedule unpickles; nested specs are built by
    their parameters' checks)."""
    params = {k: v for k, v in spec.items() if k != "kind"}
    return kind_info(spec["kind"]).make(**params)


def _bad_step(t: Any) -> SpecError:
    return SpecError(f"step must be a finite number >= 0, got {t!r}")


def _big_ints(t: Any, raw: np.ndarray) -> np.ndarray:
    """``raw`` (an object array) as float64 when every element is a real number, so that a list
    of Python ints beyond int64 is a valid array of steps as each of them is a valid step."""
    items = raw.reshape(-1).tolist() if raw.ndim else [raw.item()]
    if not items or not all(is_real(x) for x in items):
        return raw
    for x in items:
        if not (0 <= x <= _MAX_STEP):  # NaN fails too; big ints are compared exactly
            raise _bad_step(x)
    return np.array(items, dtype=np.float64).reshape(raw.shape)


def _evaluate_scalar(evaluate: Evaluator, t: Any) -> float:
    """One step's value, computed as a one-element array so that it takes the same numpy loops
    as an array call (numpy's scalar ``**`` and its SIMD array ``power`` can differ by an ulp)."""
    return float(evaluate(np.full(1, t, dtype=np.float64), np)[0])


#: Steps per block in :func:`_evaluate_in_blocks`: 32768 float64 values (256 KiB) per temporary.
_BLOCK = 1 << 15
_BLOCK_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _evaluate_in_blocks(evaluate: Evaluator, steps: np.ndarray, dtype: Any) -> np.ndarray:
    """``evaluate(steps, numpy)`` as an array of ``dtype``, computed ``_BLOCK`` steps at a time.

    Evaluators are elementwise, so the values are those of one call over all steps.  Blocks keep
    each formula's temporaries small: they stay in cache and the allocator recycles them, where
    full-size temporaries are fresh memory (page faults) on every call.  ``steps`` may be of any
    integer or float dtype; each block is converted to ``dtype`` on its own.
    """
    flat = steps.reshape(-1)
    out = np.empty(flat.shape, dtype=dtype)
    for start in range(0, flat.size, _BLOCK):
        block = flat[start : start + _BLOCK].astype(dtype, copy=False)
        out[start : start + _BLOCK] = evaluate(block, np)
    return out.reshape(steps.shape)


def _to_spec(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.spec()
    if isinstance(value, (list, tuple)):
        return [_to_spec(v) for v in value]
    return value


def _to_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_to_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _bind(kind: str, sig: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    names = list(sig.parameters)
    if len(args) > len(names):
        raise SpecError(
            f"{kind}: takes at most {len(names)} positional parameters ({', '.join(names)}), "
            f"got {len(args)}"
        )
    bound = dict(zip(names, args, strict=False))  # fewer args than names is fine
    for key, value in kwargs.items():
        if key not in sig.parameters:
            raise SpecError(
                f"{kind}: unknown parameter {key!r}; valid parameters: {', '.join(names)}"
            )
        if key in bound:
            raise SpecError(f"{kind}: parameter {key!r} given twice")
        bound[key] = value
    for name, param in sig.parameters.items():
        if name not in bound:
            if param.default is inspect.Parameter.empty:
                raise SpecError(
                    f"{kind}: missing required parameter {name!r} (parameters: {', '.join(names)})"
                )
            bound[name] = param.default
    return {name: bound[name] for name in names}


def _open(params: Mapping[str, Any]) -> None:
    return None


def schedule_kind(
    fn: Callable[P, Evaluator] | None = None,
    *,
    horizon: Horizon = _open,
    periodic: bool = False,
    sparse: bool = False,
) -> Any:
    """Register ``fn`` as a schedule kind named after it (as ``@schedule_kind`` or
    ``@schedule_kind(horizon=..., periodic=..., sparse=...)``).

    Each parameter of ``fn`` is annotated ``Annotated[type, Param(check, role)]``; the returned
    constructor binds and checks the arguments (``SpecError`` naming kind and parameter), calls
    ``fn`` with the checked values to get the evaluator, and wraps it in a :class:`Schedule`.
    ``horizon(params)`` gives the kind's horizon from the checked parameters (default: ``None``,
    open-ended); see :attr:`Schedule.horizon`.
    """
    if fn is None:
        return lambda f: schedule_kind(f, horizon=horizon, periodic=periodic, sparse=sparse)
    kind = fn.__name__
    sig = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    params = {}
    for name, parameter in sig.parameters.items():
        meta = hints[name].__metadata__[0]
        if not isinstance(meta, Param):
            raise TypeError(f"{kind}: parameter {name} must be annotated with a Param")
        required = parameter.default is inspect.Parameter.empty
        default = None if required else parameter.default
        params[name] = KindParam(name, meta.role, meta, default, required)

    @functools.wraps(fn)
    def make(*args: P.args, **kwargs: P.kwargs) -> Schedule:
        raw = _bind(kind, sig, args, kwargs)
        values = {name: params[name].check(kind, name, value) for name, value in raw.items()}
        evaluate = fn(**values)
        if sparse:
            values = {k: v for k, v in values.items() if v is not None or params[k].required}
        return Schedule(kind, values, evaluate)

    make.__annotations__ = {**fn.__annotations__, "return": "Schedule"}
    KINDS[kind] = Kind(kind, make, MappingProxyType(params), horizon, periodic, sparse)
    return make
