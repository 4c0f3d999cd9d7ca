"""The :class:`Schedule` value and the registry of schedule kinds.

A schedule maps a step ``t`` (0-based; an optimizer iteration or an epoch, whichever the caller
advances) to a learning rate.  It is an immutable value: two schedules with the same spec are equal,
whatever way they were built, and a schedule pickles as its spec.

Every kind is written as a pure function of its validated parameters that returns an *evaluator*
``evaluate(t, xp)``: ``t`` is an array of valid steps and ``xp`` an array namespace with numpy's names
(``numpy`` itself, or ``jax.numpy`` inside ``jax.jit``).  Evaluators are closed forms: no loop over
steps, no state.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ParamSpec, get_type_hints

import numpy as np

Evaluator = Callable[[Any, Any], Any]
P = ParamSpec("P")

#: The largest step a float64 can hold; Python ints beyond it are rejected, not overflowed.
_MAX_STEP = float(np.finfo(np.float64).max)

#: kind name -> constructor, in the order of the contract's table.
KINDS: dict[str, Callable[..., Schedule]] = {}


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

        Raises ``ValueError`` for negative, NaN or infinite steps.
        """
        if type(t) is int or type(t) is float:
            if not 0 <= t < math.inf or t > _MAX_STEP:
                raise ValueError(f"step must be a finite number >= 0, got {t!r}")
            return _evaluate_scalar(self._evaluate, t)
        if isinstance(t, (bool, np.bool_)):
            raise ValueError(f"step must be a finite number >= 0, got {t!r}")
        try:
            raw = np.asarray(t)
        except (TypeError, ValueError):
            raw = np.asarray(None)
        if raw.dtype.kind not in "iuf":  # bools, strings, objects: no silent coercion
            raise ValueError(
                f"step must be a number or an array of numbers, got {t!r} (dtype {raw.dtype})"
            )
        # Checked in the input's dtype, without a float64 copy of every step; only a float wider
        # than float64 is narrowed first, so that a value beyond float64's range is caught.
        with np.errstate(over="ignore"):  # such a value becomes inf and is rejected below
            steps = raw if raw.dtype.itemsize <= 8 else raw.astype(np.float64)
        if steps.size:
            lo, hi = steps.min(), steps.max()
            if not (lo >= 0 and hi < math.inf):
                bad = steps[~((steps >= 0) & (steps < math.inf))].flat[0]
                raise ValueError(f"step must be a finite number >= 0, got {bad!r}")
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
        args = ", ".join(f"{k}={_to_text(v)}" for k, v in self._params.items())
        return f"{self._kind}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        from schedlab.schedules.spec import from_spec

        return (from_spec, (self.spec(),))

    # Arithmetic sugar: ``0.5 * s`` and ``s * other`` build a ``scale`` schedule.
    def __mul__(self, other: Any) -> Schedule:
        return KINDS["scale"](self, other)

    __rmul__ = __mul__


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
        raise ValueError(
            f"{kind}: takes at most {len(names)} positional parameters ({', '.join(names)}), "
            f"got {len(args)}"
        )
    bound = dict(zip(names, args, strict=False))  # fewer args than names is fine
    for key, value in kwargs.items():
        if key not in sig.parameters:
            raise ValueError(
                f"{kind}: unknown parameter {key!r}; valid parameters: {', '.join(names)}"
            )
        if key in bound:
            raise ValueError(f"{kind}: parameter {key!r} given twice")
        bound[key] = value
    for name, param in sig.parameters.items():
        if name not in bound:
            if param.default is inspect.Parameter.empty:
                raise ValueError(
                    f"{kind}: missing required parameter {name!r} (parameters: {', '.join(names)})"
                )
            bound[name] = param.default
    return {name: bound[name] for name in names}


def schedule_kind(fn: Callable[P, Evaluator]) -> Callable[P, Schedule]:
    """Register ``fn`` as a schedule kind named after it.

    Each parameter of ``fn`` is annotated ``Annotated[type, check]``; the returned constructor binds
    and checks the arguments (``ValueError`` naming kind and parameter), calls ``fn`` with the checked
    values to get the evaluator, and wraps it in a :class:`Schedule`.
    """
    kind = fn.__name__
    sig = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    checks = {name: hints[name].__metadata__[0] for name in sig.parameters}

    @functools.wraps(fn)
    def make(*args: P.args, **kwargs: P.kwargs) -> Schedule:
        raw = _bind(kind, sig, args, kwargs)
        values = {name: checks[name](kind, name, value) for name, value in raw.items()}
        return Schedule(kind, values, fn(**values))

    make.__annotations__ = {**fn.__annotations__, "return": "Schedule"}
    KINDS[kind] = make
    return make
