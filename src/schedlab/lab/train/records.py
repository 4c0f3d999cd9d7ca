"""The record of one member after one epoch: what the trainer yields and the store keeps.

Torch-free, so that reading a store (exports, trackers, reports) does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EpochRecord:
    """Metrics of one member after one epoch (epoch is 0-based).

    ``train_loss``/``train_acc`` average the minibatch values over the epoch's samples (weights as
    they were at each step); ``val_*`` use the weights at the end of the epoch.  Accuracies are
    ``None`` for regression.  ``lr`` is the rate of the epoch's last optimizer step and ``step_lrs``
    the rate of every step (float64; what the policy gave, even for a diverged member, which applies
    none).  ``seconds`` is the wall time of the whole batched epoch.  ``extra`` holds the user's
    own validation metrics, ``val_<name>`` (empty for the built-in models).
    """

    member: int
    epoch: int
    train_loss: float
    train_acc: float | None
    val_loss: float
    val_acc: float | None
    lr: float
    step_lrs: np.ndarray
    diverged: bool
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)
