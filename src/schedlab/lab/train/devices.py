"""The device a group trains on, checked at the boundary."""

from __future__ import annotations

import torch

from schedlab.errors import ConfigError


def torch_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``: ``cpu``, ``cuda`` or ``cuda:N``, and available
    (:class:`ConfigError` naming the value otherwise)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but torch.cuda.is_available() is False")
    return dev
