"""Reduce-on-plateau: an adaptive rate policy driven by a metric, with an optional warmup.

Not a :class:`Schedule` (its value depends on the metrics seen), but a small, explicit state machine
with PyTorch ``ReduceLROnPlateau`` semantics, bit for bit, except for non-finite metrics (a NaN or
±inf metric counts as no improvement and warns; PyTorch would make ``-inf`` the best in ``min`` mode).

One :meth:`Plateau.update` is one observation of the metric (usually once per epoch):

1. *improvement*: ``metric < best * (1 - threshold)`` (``min``/``rel``), ``metric < best - threshold``
   (``min``/``abs``), ``metric > best * (1 + threshold)`` (``max``/``rel``) or
   ``metric > best + threshold`` (``max``/``abs``); an improvement sets ``best`` and clears the count
   of bad updates, anything else adds one;
2. during a cooldown (``cooldown`` updates after each reduction) and during the warmup the bad count
   is reset to 0;
3. when the bad count exceeds ``patience``: ``rate = max(rate * factor, min_lr)`` unless that lowers
   it by ``eps`` or less; then the cooldown starts and the count is cleared.

Warmup (which PyTorch cannot combine with ``ReduceLROnPlateau``): for the first ``warmup_steps`` the
rate ramps linearly from ``warmup_start_lr`` to ``lr`` (``schedlab.linear``); the clock advances by
one per :meth:`Plateau.update` (``warmup_unit="update"``) or per :meth:`Plateau.tick`
(``warmup_unit="step"``, one tick per optimizer iteration). Metrics seen during the warmup can set
``best`` but never count as bad, so no reduction happens before the warmup ends.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

from schedlab.errors import ConfigError
from schedlab.schedules import params as p
from schedlab.schedules.base import Schedule, _bind
from schedlab.schedules.decays import linear
from schedlab.schedules.spec import _build, from_spec, parse_spec
from schedlab.validate import is_finite_real, is_int, is_real

KIND = "plateau"
STATE_FORMAT = "schedlab.plateau"
STATE_VERSION = 1
_STATE_KEYS = ("rate", "best", "bad_updates", "cooldown_left", "updates", "warmup_clock")


def _factor(kind: str, name: str, value: Any) -> float:
    if not is_real(value) or not 0 <= value < 1:
        raise p.fail(kind, name, "a number in [0, 1)", value)
    return float(value)


_CHECKS = {
    "lr": p.learning_rate,
    "mode": p.choice("min", "max"),
    "factor": _factor,
    "patience": p.count,
    "threshold": p.factor,
    "threshold_mode": p.choice("rel", "abs"),
    "cooldown": p.count,
    "min_lr": p.learning_rate,
    "eps": p.learning_rate,
    "warmup_steps": p.count,
    "warmup_start_lr": p.learning_rate,
    "warmup_unit": p.choice("update", "step"),
}


class Plateau:
    """Reduce the rate by ``factor`` when a metric stops improving (PyTorch ``ReduceLROnPlateau``).

    Args:
        lr: the starting rate (after the warmup, if any).
        mode: ``"min"`` (lower metric is better) or ``"max"``.
        factor: multiplier applied at each reduction, in [0, 1).
        patience: number of bad updates tolerated; the rate drops at bad update ``patience + 1``.
        threshold, threshold_mode: how much better counts as an improvement (see module doc).
        cooldown: updates after a reduction during which bad updates are not counted.
        min_lr: the rate never goes below this.
        eps: reductions smaller than this are skipped.
        warmup_steps: length of the linear warmup from ``warmup_start_lr`` to ``lr`` (0: none),
            counted in updates or ticks (``warmup_unit``).

    >>> pl = Plateau(1.0, patience=1, factor=0.5)
    >>> [pl.update(m) for m in (3.0, 2.0, 2.5, 2.5, 2.5)]
    [1.0, 1.0, 1.0, 0.5, 0.5]
    """

    __slots__ = (
        "_bad_updates", "_best", "_cfg", "_cooldown", "_cooldown_left", "_eps", "_factor", "_lr",
        "_min_lr", "_mode_min", "_patience", "_per_update_warmup", "_ramp", "_rate", "_rel",
        "_rel_eps", "_threshold", "_updates", "_warmup_clock", "_warmup_steps",
    )  # fmt: skip

    def __init__(
        self,
        lr: float,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
        warmup_steps: int = 0,
        warmup_start_lr: float = 0.0,
        warmup_unit: str = "update",
    ) -> None:
        given = locals()
        cfg = {name: check(KIND, name, given[name]) for name, check in _CHECKS.items()}
        self._cfg = cfg
        self._lr: float = cfg["lr"]
        self._mode_min = cfg["mode"] == "min"
        self._rel = cfg["threshold_mode"] == "rel"
        self._threshold: float = cfg["threshold"]
        # PyTorch's relative thresholds: best * (1 - threshold) (min) or best * (threshold + 1) (max)
        self._rel_eps = 1.0 - self._threshold if self._mode_min else self._threshold + 1.0
        self._per_update_warmup = cfg["warmup_unit"] == "update"
        self._factor: float = cfg["factor"]
        self._patience: int = cfg["patience"]
        self._cooldown: int = cfg["cooldown"]
        self._min_lr: float = cfg["min_lr"]
        self._eps: float = cfg["eps"]
        self._warmup_steps: int = cfg["warmup_steps"]
        self._ramp: Schedule | None = (
            linear(cfg["warmup_start_lr"], self._lr, self._warmup_steps)
            if self._warmup_steps
            else None
        )
        self._rate = self._lr
        self._best = math.inf if self._mode_min else -math.inf
        self._bad_updates = 0
        self._cooldown_left = 0
        self._updates = 0
        self._warmup_clock = 0

    # -- reading -------------------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The current rate (the warmup ramp while warming up)."""
        if self._warmup_clock < self._warmup_steps:
            return self._ramp(self._warmup_clock)  # type: ignore[misc]
        return self._rate

    @property
    def best(self) -> float:
        """The best metric seen so far (``inf`` or ``-inf`` before the first finite one)."""
        return self._best

    @property
    def warming_up(self) -> bool:
        """Whether the warmup is still running."""
        return self._warmup_clock < self._warmup_steps

    @property
    def bad_updates(self) -> int:
        """Bad updates since the last improvement or reduction (``ReduceLROnPlateau.num_bad_epochs``)."""
        return self._bad_updates

    @property
    def cooldown_left(self) -> int:
        """Updates left in the cooldown (``ReduceLROnPlateau.cooldown_counter``)."""
        return self._cooldown_left

    @property
    def updates(self) -> int:
        """Number of :meth:`update` calls so far (``ReduceLROnPlateau.last_epoch``)."""
        return self._updates

    @property
    def warmup_clock(self) -> int:
        """Warmup steps done so far (updates or ticks, as ``warmup_unit`` says)."""
        return self._warmup_clock

    def spec(self) -> dict[str, Any]:
        """The configuration as a JSON-serializable dict ``{"kind": "plateau", ...}``."""
        return {"kind": KIND, **self._cfg}

    # -- advancing -----------------------------------------------------------------------------
    def update(self, metric: Any) -> float:
        """Observe one metric value (a number or a 0-d tensor); return the rate after it.

        A NaN or infinite metric counts as no improvement (a bad update, which can lead to a
        reduction once ``patience`` is exceeded) and emits a ``RuntimeWarning`` that says what it
        did to the rate.
        """
        current = metric if type(metric) is float else _to_float(metric)
        self._updates += 1
        finite = current - current == 0.0  # NaN and +-inf give NaN
        if finite:
            best = self._best
            if self._mode_min:
                improved = current < (best * self._rel_eps if self._rel else best - self._threshold)
            else:
                improved = current > (best * self._rel_eps if self._rel else best + self._threshold)
        else:
            improved = False
        if improved:
            self._best = current
            bad = 0
        else:
            bad = self._bad_updates + 1
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            bad = 0
        if self._warmup_clock < self._warmup_steps:
            # Warming up: never a bad update (so no reduction); a per-update warmup advances.
            self._bad_updates = 0
            if self._per_update_warmup:
                self._warmup_clock += 1
            if not finite:
                self._warn(current, "during the warmup, which it does not change")
            return self.lr
        before = self._rate
        due = bad > self._patience
        if due:
            new = max(self._rate * self._factor, self._min_lr)
            if self._rate - new > self._eps:
                self._rate = new
            self._cooldown_left = self._cooldown
            bad = 0
        self._bad_updates = bad
        if not finite:
            if self._rate != before:
                outcome = f"the rate is reduced from {before!r} to {self._rate!r}"
            elif due:
                outcome = f"a reduction is due but the rate stays at its floor {before!r}"
            elif bad == 0:
                outcome = f"in the cooldown after a reduction, the rate stays {before!r}"
            else:
                outcome = (
                    f"bad update {bad} of the {self._patience} tolerated, the rate stays {before!r}"
                )
            self._warn(current, outcome)
        return self._rate

    @staticmethod
    def _warn(metric: float, outcome: str) -> None:
        warnings.warn(
            f"plateau: metric is {metric!r}; counted as no improvement: {outcome}",
            RuntimeWarning,
            stacklevel=3,
        )

    def tick(self, steps: int = 1) -> float:
        """Advance a ``warmup_unit="step"`` warmup by ``steps`` optimizer iterations; return the rate.

        After the warmup, ticks change nothing.
        """
        if self._cfg["warmup_unit"] != "step":
            raise ConfigError(
                "plateau: tick() advances a warmup with warmup_unit='step', "
                f"got warmup_unit={self._cfg['warmup_unit']!r}"
            )
        if not is_int(steps) or steps < 0:
            raise ConfigError(f"plateau: tick steps must be an integer >= 0, got {steps!r}")
        self._warmup_clock = min(self._warmup_clock + steps, self._warmup_steps)
        return self.lr

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """An explicit, versioned payload: the spec and the counters (JSON-serializable)."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "spec": self.spec(),
            "rate": self._rate,
            "best": self._best,
            "bad_updates": self._bad_updates,
            "cooldown_left": self._cooldown_left,
            "updates": self._updates,
            "warmup_clock": self._warmup_clock,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore counters saved by :meth:`state_dict`; the saved spec must equal this one.

        Everything is checked before anything changes: a refused state leaves the plateau as it was.
        """
        values = self._check_state(state)
        saved = dict(state["spec"])
        if saved != self.spec():
            diff = sorted(k for k in {*saved, *self.spec()} if saved.get(k) != self.spec().get(k))
            raise ConfigError(
                f"plateau: state was saved from a plateau with different parameters {diff}: "
                f"saved {saved}, this one {self.spec()} (use Plateau.from_state_dict)"
            )
        (
            self._rate,
            self._best,
            self._bad_updates,
            self._cooldown_left,
            self._updates,
            self._warmup_clock,
        ) = values

    @staticmethod
    def _check_state(state: Any) -> tuple[float, float, int, int, int, int]:
        """The counters of a :meth:`state_dict` payload, checked (``ConfigError`` otherwise)."""
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise ConfigError(
                f"plateau: state must be a dict from Plateau.state_dict(), got {state!r}"
            )
        if state.get("version") != STATE_VERSION:
            raise ConfigError(
                f"plateau: state version must be {STATE_VERSION}, got {state.get('version')!r}"
            )
        missing = [k for k in (*_STATE_KEYS, "spec") if k not in state]
        if missing:
            raise ConfigError(f"plateau: state is missing keys {missing}")
        if not isinstance(state["spec"], Mapping):
            raise ConfigError(f"plateau: state spec must be a dict, got {state['spec']!r}")
        rate, best = state["rate"], state["best"]
        if not is_finite_real(rate) or rate < 0:
            raise ConfigError(f"plateau: state rate must be a finite number >= 0, got {rate!r}")
        if not is_real(best) or best != best:
            raise ConfigError(f"plateau: state best must be a number, got {best!r}")
        counts = [state[k] for k in _STATE_KEYS[2:]]
        for key, value in zip(_STATE_KEYS[2:], counts, strict=True):
            if not is_int(value) or value < 0:
                raise ConfigError(f"plateau: state {key} must be an integer >= 0, got {value!r}")
        return (float(rate), float(best), *(int(c) for c in counts))  # type: ignore[return-value]

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Plateau:
        """Rebuild a plateau, configuration and counters, from :meth:`state_dict`'s payload."""
        cls._check_state(state)
        spec = dict(state["spec"])
        if spec.pop("kind", KIND) != KIND:
            raise ConfigError(f"plateau: state spec must be a plateau spec, got {state['spec']!r}")
        restored = cls(**_bind(KIND, _SIGNATURE, (), spec))
        restored.load_state_dict(state)
        return restored

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plateau):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._cfg.items())
        return f"plateau({args})"


def _to_float(metric: Any) -> float:
    if isinstance(metric, (bool, str, bytes)):
        raise ConfigError(f"plateau: metric must be a number, got {metric!r}")
    try:
        return float(metric)
    except (TypeError, ValueError):
        raise ConfigError(f"plateau: metric must be a number, got {metric!r}") from None


_SIGNATURE = inspect.signature(Plateau.__init__).replace(
    parameters=list(inspect.signature(Plateau.__init__).parameters.values())[1:]
)


def plateau(*args: Any, **kwargs: Any) -> Plateau:
    """Build a :class:`Plateau` from positional/keyword arguments with spec-style errors."""
    return Plateau(**_bind(KIND, _SIGNATURE, args, kwargs))


def policy_from_spec(spec: Any) -> Schedule | Plateau:
    """Build a :class:`Schedule` or a :class:`Plateau` from any spec.

    Accepts what :func:`schedlab.from_spec` accepts plus the ``plateau`` kind in every form:
    ``{"kind": "plateau", "lr": 0.1, "patience": 5}``, its JSON/YAML text, or
    ``"plateau(lr=0.1, patience=5)"``. A :class:`Plateau` or :class:`Schedule` is returned as is.

    >>> policy_from_spec("plateau(0.1, patience=5)").spec()["patience"]
    5
    """
    if isinstance(spec, (Schedule, Plateau)):
        return spec
    if isinstance(spec, (Mapping, str)):
        kind, args, kwargs = parse_spec(spec)
        return plateau(*args, **kwargs) if kind == KIND else _build(kind, args, kwargs)
    return from_spec(spec)
