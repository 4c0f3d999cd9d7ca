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

With ``group_min_lr="absolute"`` every ``min_lr`` of the schedule stays as written in every group
(PyTorch's absolute ``eta_min``): group ``g`` gets ``scale[g] * s_g(t)`` where ``s_g`` is the
schedule with each ``min_lr`` divided by ``scale[g]``.

Momentum. For ``cyclic`` and ``one_cycle`` schedules, momentum (SGD ``momentum`` or Adam
``betas[0]``) cycles inversely to the rate, as PyTorch's ``cycle_momentum``
(see :mod:`schedlab.adapters.momentum`); on by default when the optimizer has one.

Checks that need the running loop (warnings, never errors): at construction, a rate the optimizer
was built with that the schedule never uses (it is replaced); at the first ``step()`` after the
optimizer stepped, a scheduler stepped less often than its ``interval`` says (a step-written
schedule stepped once per epoch advances ``steps_per_epoch`` times too slowly).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from schedlab.adapters.momentum import CYCLED_KINDS, cycle_momentum
from schedlab.adapters.torch_groups import (
    absolute_floors,
    check_group_min_lr,
    check_optimizer,
    check_scales,
    ratios,
    same_rate,
    write,
)
from schedlab.adapters.torch_plateau import PlateauLR
from schedlab.adapters.units import UNITS, check_unit
from schedlab.errors import ConfigError
from schedlab.schedules import Schedule, from_spec
from schedlab.validate import is_int

__all__ = ["PlateauLR", "ScheduleLR"]

CHUNK = 4096
STATE_FORMAT = "schedlab.torch.ScheduleLR"
STATE_VERSION = 1
_WITHIN = ("constant", "continuous")
#: Spec keys that hold rates (used only to tell whether the optimizer's own rate is the schedule's).
_RATE_KEYS = ("lr", "max_lr", "min_lr", "start_lr", "end_lr")


def _fail(name: str, constraint: str, value: Any) -> ConfigError:
    return ConfigError(f"ScheduleLR: {name} must be {constraint}, got {value!r}")


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(name, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def _per_group(name: str, spec: Any, groups: int) -> list[Schedule]:
    """One schedule per group: a spec for all, or a list with one spec per group."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != groups:
            raise _fail(name, f"one schedule or a list of {groups} (one per parameter group)", spec)
        return [from_spec(s) for s in spec]
    return [from_spec(spec)] * groups


def _spec_rates(spec: Any) -> list[float]:
    """The rates written in a spec (``lr``, ``max_lr``, ..., ``values``, points), nested included."""
    out: list[float] = []
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            if key in _RATE_KEYS and isinstance(value, (int, float)):
                out.append(float(value))
            elif key == "values" and isinstance(value, list):
                out += [float(v) for v in value if isinstance(v, (int, float))]
            elif key == "points" and isinstance(value, list):
                out += [float(p[1]) for p in value if isinstance(p, list) and len(p) == 2]
            elif key in ("schedule", "schedules"):
                out += _spec_rates(value)
    elif isinstance(spec, list):
        for item in spec:
            out += _spec_rates(item)
    return out


def _counting_hook(scheduler: ScheduleLR) -> Any:
    """An optimizer step post-hook counting steps for ``scheduler`` (held weakly: a dropped
    scheduler leaves a no-op behind, never a reference that keeps it alive)."""
    ref = weakref.ref(scheduler)

    def count(optimizer: Any, args: Any, kwargs: Any) -> None:
        sched = ref()
        if sched is not None:
            sched._optimizer_steps += 1

    return count


class _Track:
    """One optimizer hyperparameter of one group and the function giving its values at steps t."""

    __slots__ = ("group", "key", "scale", "values")

    def __init__(self, group: int, key: str, values: Any, scale: float) -> None:
        self.group, self.key, self.values, self.scale = group, key, values, scale

    def rows(self, t: np.ndarray) -> list[float]:
        values = self.values(t)
        return (values if self.scale == 1.0 else values * self.scale).tolist()

    def __getstate__(self) -> tuple[int, str, Any, float]:
        return self.group, self.key, self.values, self.scale

    def __setstate__(self, state: tuple[int, str, Any, float]) -> None:
        self.group, self.key, self.values, self.scale = state


class ScheduleLR(LRScheduler):
    """Drive a PyTorch optimizer with a schedlab schedule (a ``Schedule`` or any spec).

    Args:
        optimizer: the optimizer whose ``param_groups`` get the rates.
        schedule: a schedule or spec, or a list of them (one per parameter group).
        interval: how often ``step()`` is called: ``"step"`` (each iteration) or ``"epoch"``.
        unit: the unit the schedule is written in (default ``interval``).
        steps_per_epoch: optimizer iterations per epoch; needed (only) when ``unit != interval``.
        within_epoch: ``"constant"`` (default: ``t = k // steps_per_epoch``) or ``"continuous"``
            (``t = k / steps_per_epoch``) for an epoch schedule stepped per iteration; given
            anywhere else (where it would have no effect) it is an error.
        last_epoch: PyTorch's resume index: construction applies ``k = last_epoch + 1``.
        group_scales: per-group factors on the rate (default: ratios of the groups' initial rates).
        group_min_lr: ``"scaled"`` (default: a group's floor scales with its rate like the rest of
            the schedule) or ``"absolute"`` (every ``min_lr`` is the same in all groups, as
            PyTorch's ``eta_min``).
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
    >>> sched
    ScheduleLR(step(lr=1.0, step_size=2, gamma=0.5), interval='step', last_epoch=4)
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Any,
        *,
        interval: str = "step",
        unit: str | None = None,
        steps_per_epoch: int | None = None,
        within_epoch: str | None = None,
        last_epoch: int = -1,
        group_scales: Sequence[float] | None = None,
        group_min_lr: str = "scaled",
        hyperparams: Mapping[str, Any] | None = None,
        cycle_momentum: bool | None = None,
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> None:
        groups = check_optimizer("ScheduleLR", optimizer)
        self.optimizer = optimizer
        self._config = self._check_units(interval, unit, steps_per_epoch, within_epoch)
        if not is_int(last_epoch) or last_epoch < -1:
            raise _fail("last_epoch", "an integer >= -1", last_epoch)
        last_epoch = int(last_epoch)
        floors = check_group_min_lr("ScheduleLR", group_min_lr)
        per_group = isinstance(schedule, (list, tuple))
        schedules = _per_group("schedule", schedule, len(groups))
        # the rates the optimizer was built with, before this scheduler writes its own
        fresh = last_epoch == -1 and not any("initial_lr" in g for g in groups)
        built_with = [float(g["lr"]) for g in groups] if fresh else None
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in groups]
        lr_scales = self._lr_scales(per_group, group_scales, len(groups))
        self._schedules = schedules
        self._per_group_specs = per_group
        self._floors = floors
        tracks = [
            _Track(g, "lr", self._lr_values(g, lr_scales[g]), lr_scales[g])
            for g in range(len(groups))
        ]
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
            group_min_lr=floors,
            hyperparams={
                k: [t.values.spec() for t in tracks if t.key == k] for k in hyperparams or {}
            },
            cycle_momentum=bool(momentum),
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )
        self._reset_cache()
        self._step_count = 1
        self.last_epoch = last_epoch + 1
        self._apply(self.last_epoch)
        if built_with is not None:
            self._warn_if_overridden(built_with)
        # Counts optimizer steps until the first step() after one, to check the interval.
        self._optimizer_steps = 0
        self._calls = 0
        self._probe: Any = optimizer.register_step_post_hook(_counting_hook(self))

    # -- construction helpers ------------------------------------------------------------------
    @staticmethod
    def _check_units(
        interval: str, unit: str | None, steps_per_epoch: int | None, within_epoch: str | None
    ) -> dict[str, Any]:
        interval = _choice("interval", interval, UNITS)
        unit = interval if unit is None else unit
        steps_per_epoch = check_unit("ScheduleLR", unit, steps_per_epoch, counter=interval)
        if within_epoch is not None:
            within_epoch = _choice("within_epoch", within_epoch, _WITHIN)
            if (interval, unit) != ("step", "epoch"):
                raise ConfigError(
                    "ScheduleLR: within_epoch applies only to a schedule written in epochs and "
                    "stepped per optimizer step (unit='epoch', interval='step'); got "
                    f"within_epoch={within_epoch!r} with interval={interval!r}, unit={unit!r}, "
                    "where it has no effect: remove it"
                )
        within_epoch = within_epoch or "constant"
        return {
            "interval": interval,
            "unit": unit,
            "steps_per_epoch": steps_per_epoch,
            "within_epoch": within_epoch,
        }

    def _lr_scales(self, per_group: bool, scales: Any, groups: int) -> list[float]:
        if scales is None:
            if per_group:
                return [1.0] * groups
            return ratios("ScheduleLR", "lr", self.base_lrs)
        return check_scales("ScheduleLR", scales, groups)

    def _lr_values(self, group: int, scale: float) -> Schedule:
        """The schedule whose values, times ``scale``, are group ``group``'s rates."""
        schedule = self._schedules[group]
        if self._floors == "scaled" or scale == 1.0:
            return schedule
        if scale == 0.0:
            raise ConfigError(
                f"ScheduleLR: group_min_lr='absolute' needs every group's rate scale > 0, got 0.0 "
                f"for group {group} (give it its own schedule instead)"
            )
        try:
            return from_spec(absolute_floors(schedule.spec(), scale))
        except ValueError as err:  # SpecError, or a plain ValueError of the schedule layer
            raise ConfigError(
                f"ScheduleLR: group_min_lr='absolute': group {group} (rate scale {scale!r}) cannot "
                f"keep min_lr as written in {schedule!r}: {err}"
            ) from None

    @staticmethod
    def _hyper_tracks(hyperparams: Any, groups: list[dict]) -> list[_Track]:
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

    def _warn_if_overridden(self, built_with: list[float]) -> None:
        """Warn once when a group's rate, as the optimizer was built, is not the schedule's.

        Not a mismatch: the rate this scheduler writes now, the largest rate of its first chunk of
        steps (a warmup's target) or a rate written in the spec (``lr``, ``max_lr``, ...), each
        times the group's scale.
        """
        i = self.last_epoch - self._start
        for track, rows in zip(self._tracks, self._lr_rows, strict=False):
            chosen = built_with[track.group]
            written, peak = rows[i], max(rows)
            rates = [written, peak]
            rates += [r * track.scale for r in _spec_rates(self._schedules[track.group].spec())]
            if not any(same_rate(chosen, r) for r in rates):
                starts = f"lr={written!r}" + ("" if peak == written else f" (peak {peak!r})")
                warnings.warn(
                    f"ScheduleLR: the optimizer was built with lr={chosen!r} (parameter group "
                    f"{track.group}), but the schedule {self._schedules[track.group]!r} starts "
                    f"at {starts} and replaces the optimizer's rate at every step; build the "
                    f"optimizer with lr={peak!r} to silence this warning",
                    UserWarning,
                    stacklevel=3,
                )
                return

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

    def _reset_cache(self) -> None:
        self._start, self._size = 0, 0
        self._groups: list[dict] = []
        self._fast: list[tuple[dict, str, list[float]]] = []
        self._slow: list[tuple[dict, str, list[float]]] = []
        self._lr_rows: list[list[float]] = []  # one per group, in group order

    def _fill(self, k: int) -> None:
        t = self._steps(np.arange(k, k + CHUNK, dtype=np.int64))
        groups = self._groups = self.optimizer.param_groups
        self._fast, self._slow, self._lr_rows = [], [], []
        for track in self._tracks:
            group = groups[track.group]
            rows = track.rows(t)
            if track.key == "lr":
                self._lr_rows.append(rows)
            fast = track.key != "betas" and not isinstance(group[track.key], torch.Tensor)
            (self._fast if fast else self._slow).append((group, track.key, rows))
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
        elif not is_int(epoch) or epoch < 0:
            raise _fail("epoch", "an integer >= 0 (or None to advance by one)", epoch)
        else:
            k = int(epoch)
        if self._probe is not None:
            self._check_interval()
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

    def _check_interval(self) -> None:
        """At the first ``step()`` after an optimizer step: warn if ``step()`` comes less often
        than ``interval`` says (the schedule would then run slower than written)."""
        self._calls += 1
        steps, calls = self._optimizer_steps, self._calls
        if steps == 0:
            return  # step() before any optimizer step: look again at the next one
        self._probe.remove()
        self._probe = None
        cfg = self._config
        if cfg["interval"] == "step":
            if steps > calls:
                per_call = f"{steps / calls:g}"
                warnings.warn(
                    f"ScheduleLR: the optimizer stepped {steps} times before step() was called "
                    f"{calls} time(s), but interval='step' means one step() per optimizer step: "
                    f"the schedule would run {per_call}x slower than written. If you step the "
                    'scheduler once per epoch (Lightning\'s "interval": "epoch"), build it with '
                    f"interval='epoch', unit='step', steps_per_epoch={per_call} for a schedule "
                    "written in optimizer steps (or interval='epoch' for one written in epochs); "
                    'or step it after every optimizer step (Lightning\'s "interval": "step").',
                    UserWarning,
                    stacklevel=3,
                )
        elif cfg["steps_per_epoch"] is not None and steps > calls * cfg["steps_per_epoch"]:
            warnings.warn(
                f"ScheduleLR: the optimizer stepped {steps} times in the first {calls} epoch(s), "
                f"but steps_per_epoch={cfg['steps_per_epoch']}: the schedule (unit='step') would "
                f"run slower than written; pass steps_per_epoch={steps / calls:g}.",
                UserWarning,
                stacklevel=3,
            )

    def get_last_lr(self) -> list[float]:
        """The rates written by the last ``step()`` (or construction), one per group, in order."""
        return self._lr_values_now()

    def get_lr(self) -> list[float]:
        """Same as :meth:`get_last_lr` (the values are a closed form of the counter)."""
        return self._lr_values_now()

    def _lr_values_now(self) -> list[float]:
        i = self.last_epoch - self._start
        if not 0 <= i < self._size or self.optimizer.param_groups is not self._groups:
            self._fill(self.last_epoch)
            i = 0
        return [rows[i] for rows in self._lr_rows]

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

        The saved configuration must equal this scheduler's (same specs and units); the state is
        checked before anything changes.
        """
        state = state_dict
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise _fail("state_dict", "a dict from ScheduleLR.state_dict()", state)
        if state.get("version") != STATE_VERSION:
            raise _fail("state_dict version", str(STATE_VERSION), state.get("version"))
        if not isinstance(state.get("config"), Mapping):
            raise _fail("state_dict config", "a dict", state.get("config"))
        saved = {"group_min_lr": "scaled", **state["config"]}  # older payloads: the default
        if saved != self._config:
            diff = sorted(k for k in {*saved, *self._config} if saved.get(k) != self._config.get(k))
            raise ConfigError(
                f"ScheduleLR: the state was saved with a different configuration ({diff}): "
                f"saved {saved}, this scheduler {self._config}"
            )
        try:
            scales = {(g, k): s for g, k, s in state["scales"]}
        except (KeyError, TypeError, ValueError):
            raise _fail(
                "state_dict scales", "[[group, key, scale], ...]", state.get("scales")
            ) from None
        if set(scales) != {(t.group, t.key) for t in self._tracks}:
            raise _fail("state_dict scales", "one per scheduled (group, key)", state["scales"])
        last_epoch = state.get("last_epoch")
        if not is_int(last_epoch) or last_epoch < 0:
            raise _fail("state_dict last_epoch", "an integer >= 0", last_epoch)
        values = check_scales(
            "ScheduleLR", [scales[(t.group, t.key)] for t in self._tracks], len(self._tracks)
        )
        lr_values = [
            self._lr_values(t.group, s) if t.key == "lr" else t.values
            for t, s in zip(self._tracks, values, strict=True)
        ]
        for track, scale, fn in zip(self._tracks, values, lr_values, strict=True):
            track.scale, track.values = scale, fn
        self._reset_cache()
        self.last_epoch = int(last_epoch)
        self._apply(self.last_epoch)

    # -- pickling and display --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_probe"] = None  # a hook handle on the optimizer: not part of the value
        for key in ("_groups", "_fast", "_slow", "_lr_rows"):
            state[key] = []
        state["_start"] = state["_size"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        cfg = self._config
        if self._per_group_specs:
            what = "[" + ", ".join(repr(s) for s in self._schedules) + "]"
        else:
            what = repr(self._schedules[0])
        args = [what, f"interval={cfg['interval']!r}"]
        if cfg["unit"] != cfg["interval"]:
            args += [f"unit={cfg['unit']!r}", f"steps_per_epoch={cfg['steps_per_epoch']!r}"]
            if cfg["unit"] == "epoch" and cfg["within_epoch"] != "constant":
                args.append(f"within_epoch={cfg['within_epoch']!r}")
        if self._floors != "scaled":
            args.append(f"group_min_lr={self._floors!r}")
        if cfg["hyperparams"]:
            args.append(f"hyperparams={sorted(cfg['hyperparams'])!r}")
        if cfg["cycle_momentum"]:
            args.append("cycle_momentum=True")
        args.append(f"last_epoch={self.last_epoch}")
        return f"ScheduleLR({', '.join(args)})"
