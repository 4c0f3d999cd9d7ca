"""Helpers for PyTorch ``param_groups`` shared by the torch adapters: proportional groups, writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def ratios(owner: str, name: str, values: Sequence[Any]) -> list[float]:
    """Ratios ``values[g] / values[0]`` (1.0 where equal), the rule that keeps groups proportional."""
    first = float(values[0])
    if all(float(v) == first for v in values):
        return [1.0] * len(values)
    if first == 0.0:
        raise ValueError(
            f"{owner}: cannot keep parameter groups' {name} proportional to group 0, whose "
            f"{name} is 0.0 (groups have {[float(v) for v in values]}); pass group_scales=[...] "
            "or one schedule per group"
        )
    return [float(v) / first for v in values]


def write(group: dict, key: str, value: float) -> None:
    """Write ``value`` into ``group[key]``: in place for tensors, as beta1 for ``betas``."""
    if key == "betas":
        group["betas"] = (value, *group["betas"][1:])
    elif isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value
