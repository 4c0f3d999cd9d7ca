"""Helpers for PyTorch ``param_groups`` shared by the torch adapters: checks, proportional groups,
writes, and the per-group floor rule (``group_min_lr``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from schedlab.errors import ConfigError
from schedlab.validate import is_finite_real

#: How a single schedule's floors (``min_lr``) apply to groups with other rates: scaled with the
#: group's ratio (schedlab's default) or kept as written, PyTorch's absolute ``eta_min``/``min_lr``.
GROUP_MIN_LR = ("scaled", "absolute")


def check_optimizer(owner: str, optimizer: Any) -> list[dict]:
    """The optimizer's ``param_groups``: a real ``torch.optim.Optimizer`` with at least one group."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(f"{owner}: optimizer must be a torch.optim.Optimizer, got {optimizer!r}")
    if not optimizer.param_groups:
        raise ConfigError(
            f"{owner}: optimizer must have at least one parameter group, got {optimizer!r} with none"
        )
    return optimizer.param_groups


def check_scales(owner: str, scales: Any, groups: int) -> list[float]:
    """``group_scales``: one finite number >= 0 per parameter group."""
    if (
        isinstance(scales, (str, bytes, Mapping))
        or not isinstance(scales, Sequence)
        or len(scales) != groups
        or not all(is_finite_real(s) and s >= 0 for s in scales)
    ):
        raise ConfigError(
            f"{owner}: group_scales must be a list of {groups} finite numbers >= 0 (one per "
            f"parameter group), got {scales!r}"
        )
    return [float(s) for s in scales]


def check_group_min_lr(owner: str, value: Any) -> str:
    if value not in GROUP_MIN_LR:
        raise ConfigError(
            f"{owner}: group_min_lr must be one of {', '.join(map(repr, GROUP_MIN_LR))}, "
            f"got {value!r}"
        )
    return value


def ratios(owner: str, name: str, values: Sequence[Any]) -> list[float]:
    """Ratios ``values[g] / values[0]`` (1.0 where equal), the rule that keeps groups proportional."""
    first = float(values[0])
    if all(float(v) == first for v in values):
        return [1.0] * len(values)
    if first == 0.0:
        raise ConfigError(
            f"{owner}: cannot keep parameter groups' {name} proportional to group 0, whose "
            f"{name} is 0.0 (groups have {[float(v) for v in values]}); pass group_scales=[...] "
            "or one schedule per group"
        )
    return [float(v) / first for v in values]


def absolute_floors(spec: Mapping[str, Any], scale: float) -> dict[str, Any]:
    """``spec`` with every ``min_lr`` divided by ``scale``, so that ``scale * schedule(t)`` keeps the
    floor as written (PyTorch's absolute ``eta_min``) while the rest of the schedule scales.

    Nested schedules (``schedule``, ``schedules``) are rewritten too; the factor of a ``scale``
    kind (``by``) is left alone, it is not a rate.
    """
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "min_lr" and value:
            out[key] = value / scale
        elif key == "schedule" and isinstance(value, Mapping):
            out[key] = absolute_floors(value, scale)
        elif key == "schedules" and isinstance(value, list):
            out[key] = [absolute_floors(v, scale) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def write(group: dict, key: str, value: float) -> None:
    """Write ``value`` into ``group[key]``: in place for tensors, as beta1 for ``betas``."""
    if key == "betas":
        group["betas"] = (value, *group["betas"][1:])
    elif isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


def same_rate(a: float, b: float) -> bool:
    """Whether two rates are equal up to rounding (a schedule's ``0.1`` and a float32 ``0.1``)."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=0.0)
