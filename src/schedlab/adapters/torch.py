"""PyTorch adapter: ``ScheduleLR``, a real ``torch.optim.lr_scheduler.LRScheduler`` driven by schedlab.

The adapter owns the counter; every value comes from the schedule (``schedule(t)``, bit for bit),
computed a chunk of counters at a time so that ``step()`` only writes precomputed floats.

Counter and units. ``last_epoch`` = ``k`` is the number of ``step()`` calls so far (PyTorch's
convention: construction applies ``k = 0``).  ``interval`` says how often you call ``step()``
(``"step"``: after every optimizer iteration, ``"epoch"``: after every epoch); ``unit`` says in which
unit the schedule is written (default: the same as ``interval``).  When they differ,
``steps_per_epoch`` converts: an epoch-written schedule stepped per iteration sees
``t = k // steps_per_epoch`` (``within_epoch="constant"``, the rate of each epoch as written) or
``t = k / steps_per_epoch`` (``within_epoch="continuous"``); a step-written schedule stepped per
epoch sees ``t = k * steps_per_epoch`` (the rate at each epoch's first iteration).

Parameter groups. Pass one schedule: group 0 follows it exactly and group ``g`` gets
``schedule(t) * scale[g]``, ``scale[g] = initial_lr[g] / initial_lr[0]`` (the groups' rates when
the scheduler is created; all 1.0 when they are equal, so no rounding), or ``group_scales=[...]``
explicitly.  Pass a list of schedules, one per group, to give each group its own (scale 1).
Any other hyperparameter follows the same rules via ``hyperparams={"weight_decay": spec}``.

Momentum. For ``cyclic`` and ``one_cycle`` schedules, momentum (SGD ``momentum`` or Adam
``betas[0]``) cycles inversely to the rate, as PyTorch's ``cycle_momentum``
(see :mod:`schedlab.adapters.momentum`); on by default when the optimizer has one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from schedlab.adapters.momentum import CYCLED_KINDS, cycle_momentum
from schedlab.adapters.torch_groups import ratios, write
from schedlab.adapters.torch_plateau import PlateauLR
from schedlab.adapters.units import UNITS, check_unit
from schedlab.schedules import Schedule, from_spec

__all__ = ["PlateauLR", "ScheduleLR"]

CHUNK = 4096
STATE_FORMAT = "schedlab.torch.ScheduleLR"
STATE_VERSION = 1
_WITHIN = ("constant", "continuous")


def _fail(name: str, constraint: str, value: Any) -> ValueError:
    return ValueError(f"ScheduleLR: {name} must be {constraint}, got {value!r}")


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise _fail(name, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def _per_group(name: str, spec: Any, groups: int) -> list[Schedule]:
    """One schedule per group: a spec for all, or a list with one spec per group."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != groups:
            raise _fail(name, f"one schedule or a list of {groups} (one per parameter group)", spec)
        return [from_spec(s) for s in spec]
    return [from_spec(spec)] * groups


class _Track:
    """One optimizer hyperparameter of one group and the function giving its values at steps t."""

    __slots__ = ("group", "key", "scale", "values")

    def __init__(self, group: int, key: str, values: Any, scale: float) -> None:
        self.group, self.key, self.values, self.scale = group, key, values, scale

    def rows(self, t: np.ndarray) -> list[float]:
        values = self.values(t)
        return (values if self.scale == 1.0 else values * self.scale).tolist()


class ScheduleLR(LRScheduler):
    """Drive a PyTorch optimizer with a schedlab schedule (a ``Schedule`` or any spec).

    Args:
        optimizer: the optimizer whose ``param_groups`` get the rates.
        schedule: a schedule or spec, or a list of them (one per parameter group).
        interval: how often ``step()`` is called: ``"step"`` (each iteration) or ``"epoch"``.
        unit: the unit the schedule is written in (default ``interval``).
        steps_per_epoch: optimizer iterations per epoch; needed (only) when ``unit != interval``.
        within_epoch: ``"constant"`` (``t = k // steps_per_epoch``) or ``"continuous"``
            (``t = k / steps_per_epoch``) for an epoch schedule stepped per iteration.
        last_epoch: PyTorch's resume index: construction applies ``k = last_epoch + 1``.
        group_scales: per-group factors on the rate (default: ratios of the groups' initial rates).
        hyperparams: ``{"weight_decay": spec, ...}``: other ``param_group`` keys to schedule.
        cycle_momentum: cycle momentum/beta1 inversely to a ``cyclic``/``one_cycle`` rate
            (default: on for those kinds when the optimizer has momentum or betas).
        base_momentum, max_momentum: the momentum range (default: PyTorch's for the kind).

    >>> import torch, schedlab
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = ScheduleLR(opt, "step(lr=1.0, step_size=2, gamma=0.5)")
    >>> rates = [opt.param_groups[0]["lr"]]
    >>> for _ in range(4):
    ...     opt.step(); sched.step(); rates.append(opt.param_groups[0]["lr"])
    >>> rates
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Any,
        *,
        interval: str = "step",
        unit: str | None = None,
        steps_per_epoch: int | None = None,
        within_epoch: str = "constant",
        last_epoch: int = -1,
        group_scales: Sequence[float] | None = None,
        hyperparams: Mapping[str, Any] | None = None,
        cycle_momentum: bool | None = None,
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise _fail("optimizer", "a torch.optim.Optimizer", optimizer)
        self.optimizer = optimizer
        groups = optimizer.param_groups
        self._config = self._check_units(interval, unit, steps_per_epoch, within_epoch)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise _fail("last_epoch", "an integer >= -1", last_epoch)
        schedules = _per_group("schedule", schedule, len(groups))
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in groups]
        lr_scales = self._lr_scales(schedule, group_scales, len(groups))
        tracks = [_Track(g, "lr", s, lr_scales[g]) for g, s in enumerate(schedules)]
        tracks += self._hyper_tracks(hyperparams or {}, groups)
        momentum = self._momentum_tracks(schedules, cycle_momentum, base_momentum, max_momentum)
        tracks += momentum
        keys = [(t.group, t.key) for t in tracks]
        if len(set(keys)) != len(keys):
            raise _fail(
                "hyperparams", "keys not scheduled already (lr, cycled momentum)", hyperparams
            )
        self._tracks = tracks
        self._config.update(
            schedules=[s.spec() for s in schedules],
            hyperparams={
                k: [t.values.spec() for t in tracks if t.key == k] for k in hyperparams or {}
            },
            cycle_momentum=bool(momentum),
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )
        self._start, self._size = 0, 0
        self._groups: list[dict] = []
        self._fast: list[tuple[dict, str, list[float]]] = []
        self._slow: list[tuple[dict, str, list[float]]] = []
        self._step_count = 1
        self.last_epoch = last_epoch + 1
        self._apply(self.last_epoch)

    # -- construction helpers ------------------------------------------------------------------
    @staticmethod
    def _check_units(
        interval: str, unit: str | None, steps_per_epoch: int | None, within_epoch: str
    ) -> dict[str, Any]:
        interval = _choice("interval", interval, UNITS)
        unit = interval if unit is None else unit
        steps_per_epoch = check_unit("ScheduleLR", unit, steps_per_epoch, counter=interval)
        within_epoch = _choice("within_epoch", within_epoch, _WITHIN)
        return {
            "interval": interval,
            "unit": unit,
            "steps_per_epoch": steps_per_epoch,
            "within_epoch": within_epoch,
        }

    def _lr_scales(self, schedule: Any, scales: Sequence[float] | None, groups: int) -> list[float]:
        if scales is None:
            if isinstance(schedule, (list, tuple)):
                return [1.0] * groups
            return ratios("ScheduleLR", "lr", self.base_lrs)
        if (
            isinstance(scales, (str, bytes))
            or not isinstance(scales, Sequence)
            or len(scales) != groups
        ):
            raise _fail("group_scales", f"a list of {groups} finite numbers >= 0", scales)
        out = []
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < math.inf:
                raise _fail("group_scales", f"a list of {groups} finite numbers >= 0", scales)
            out.append(float(s))
        return out

    @staticmethod
    def _hyper_tracks(hyperparams: Mapping[str, Any], groups: list[dict]) -> list[_Track]:
        if not isinstance(hyperparams, Mapping):
            raise _fail("hyperparams", "a dict {param_group key: spec}", hyperparams)
        tracks = []
        for key, spec in hyperparams.items():
            if key == "lr" or any(key not in g for g in groups):
                valid = sorted(k for k in groups[0] if k not in ("params", "lr", "initial_lr"))
                raise _fail(
                    "hyperparams", f"keys of every param_group other than 'lr' ({valid})", key
                )
            schedules = _per_group(f"hyperparams[{key!r}]", spec, len(groups))
            scales = (
                [1.0] * len(groups)
                if isinstance(spec, (list, tuple))
                else ratios("ScheduleLR", key, [g[key] for g in groups])
            )
            tracks += [_Track(g, key, s, scales[g]) for g, s in enumerate(schedules)]
        return tracks

    def _momentum_tracks(
        self,
        schedules: list[Schedule],
        enabled: bool | None,
        base: float | None,
        top: float | None,
    ) -> list[_Track]:
        defaults = self.optimizer.defaults
        key = "betas" if "betas" in defaults else "momentum" if "momentum" in defaults else None
        cyclical = all(s.kind in CYCLED_KINDS for s in schedules)
        if enabled is None:
            enabled = cyclical and key is not None
        elif not isinstance(enabled, bool):
            raise _fail("cycle_momentum", "True, False or None", enabled)
        if not enabled:
            if base is not None or top is not None:
                raise _fail("base_momentum", "None when momentum is not cycled", base or top)
            return []
        if key is None:
            raise _fail(
                "cycle_momentum", "False for an optimizer without momentum or betas", enabled
            )
        if not cyclical:
            raise _fail(
                "cycle_momentum",
                f"False unless the schedule kind is one of {', '.join(CYCLED_KINDS)}",
                enabled,
            )
        return [_Track(g, key, cycle_momentum(s, base, top), 1.0) for g, s in enumerate(schedules)]

    # -- stepping ------------------------------------------------------------------------------
    def _steps(self, k: np.ndarray) -> np.ndarray:
        """Schedule time ``t`` for counters ``k`` (see the module doc)."""
        cfg = self._config
        if cfg["unit"] == cfg["interval"]:
            return k.astype(np.float64)
        spe = cfg["steps_per_epoch"]
        if cfg["unit"] == "step":
            return (k * spe).astype(np.float64)
        if cfg["within_epoch"] == "constant":
            return (k // spe).astype(np.float64)
        return k / spe

    def _fill(self, k: int) -> None:
        t = self._steps(np.arange(k, k + CHUNK, dtype=np.int64))
        groups = self._groups = self.optimizer.param_groups
        self._fast, self._slow = [], []
        for track in self._tracks:
            group = groups[track.group]
            entry = (group, track.key, track.rows(t))
            fast = track.key != "betas" and not isinstance(group[track.key], torch.Tensor)
            (self._fast if fast else self._slow).append(entry)
        self._start, self._size = k, CHUNK

    def _apply(self, k: int) -> None:
        i = k - self._start
        if not 0 <= i < self._size or self.optimizer.param_groups is not self._groups:
            self._fill(k)
            i = 0
        for group, key, rows in self._fast:
            group[key] = rows[i]
        for group, key, rows in self._slow:
            write(group, key, rows[i])

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance the counter by one (or jump to ``epoch``) and write the values."""
        if epoch is None:
            k = self.last_epoch + 1
        elif isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise _fail("epoch", "an integer >= 0 (or None to advance by one)", epoch)
        else:
            k = epoch
        self.last_epoch = k
        i = k - self._start
        # optimizer.load_state_dict() replaces param_groups: refill to write into the new dicts
        if 0 <= i < self._size and self.optimizer.param_groups is self._groups:
            for group, key, rows in self._fast:
                group[key] = rows[i]
            if self._slow:
                for group, key, rows in self._slow:
                    write(group, key, rows[i])
        else:
            self._apply(k)

    def get_last_lr(self) -> list[float]:
        """The rates written by the last ``step()`` (or construction), one per group."""
        return self._values("lr")

    def get_lr(self) -> list[float]:
        """Same as :meth:`get_last_lr` (the values are a closed form of the counter)."""
        return self._values("lr")

    def _values(self, key: str) -> list[float]:
        if self.optimizer.param_groups is not self._groups:
            self._fill(self.last_epoch)
        i = self.last_epoch - self._start
        return [rows[i] for _, k, rows in self._fast + self._slow if k == key]

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """An explicit, versioned payload: configuration (specs, units), counter and group scales."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "config": dict(self._config),
            "last_epoch": self.last_epoch,
            "scales": [[t.group, t.key, t.scale] for t in self._tracks],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the counter and scales and write the values at that counter to the optimizer.

        The saved configuration must equal this scheduler's (same specs and units).
        """
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise _fail("state_dict", "a dict from ScheduleLR.state_dict()", state)
        if state.get("version") != STATE_VERSION:
            raise _fail("state_dict version", str(STATE_VERSION), state.get("version"))
        saved = state["config"]
        if saved != self._config:
            diff = sorted(k for k in {*saved, *self._config} if saved.get(k) != self._config.get(k))
            raise ValueError(
                f"ScheduleLR: the state was saved with a different configuration ({diff}): "
                f"saved {saved}, this scheduler {self._config}"
            )
        scales = {(g, k): s for g, k, s in state["scales"]}
        if set(scales) != {(t.group, t.key) for t in self._tracks}:
            raise _fail("state_dict scales", "one per scheduled (group, key)", state["scales"])
        for track in self._tracks:
            track.scale = float(scales[(track.group, track.key)])
        self._start, self._size = 0, 0
        self.last_epoch = int(state["last_epoch"])
        self._apply(self.last_epoch)
