"""Checkpoint bytes of one member: ``torch.save`` of :meth:`BatchedTrainer.member_state`."""

from __future__ import annotations

import io


def dump_state(state: dict) -> bytes:
    """``torch.save`` bytes of a member state."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_state(blob: bytes) -> dict:
    """Inverse of :func:`dump_state` (unpickles: load only checkpoints you wrote)."""
    import torch

    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
