"""Keras' "time-based decay" as blog posts run it, in closed form, as a schedlab spec.

The posts pass ``fn(epoch, lr) = lr / (1 + decay * epoch)`` to ``keras.callbacks.
LearningRateScheduler``, which calls it at the start of every epoch with the *current* rate.  The
rate therefore compounds: ``lr_0 = lr`` and ``lr_e = lr_{e-1} / (1 + decay * e)``, i.e.

    lr_e = lr / prod_{k=1..e} (1 + decay * k)
         = lr / (decay**e * Gamma(e + 1 + 1/decay) / Gamma(1 + 1/decay))

(the Gamma form extends it to fractional ``e``).  This is much faster than the closed-form
``inverse_time`` kind, ``lr / (1 + decay * e)``, which the same words usually describe.
"""

from __future__ import annotations

import math

import numpy as np

from schedlab.errors import ConfigError


def compounding_rate(lr: float, decay: float, epoch: float) -> float:
    """``lr / prod_{k=1..epoch}(1 + decay*k)`` (epochs 0-based; fractional epochs via Gamma).

    Integer epochs use the exact product; ``decay == 0`` gives ``lr``.
    """
    if not (math.isfinite(lr) and lr >= 0):
        raise ConfigError(f"time-based decay: lr must be a finite number >= 0; got {lr!r}")
    if not (math.isfinite(decay) and decay >= 0):
        raise ConfigError(f"time-based decay: decay must be a finite number >= 0; got {decay!r}")
    if not (math.isfinite(epoch) and epoch >= 0):
        raise ConfigError(f"time-based decay: epoch must be a finite number >= 0; got {epoch!r}")
    if decay == 0 or epoch == 0:
        return float(lr)
    if float(epoch).is_integer():
        log_prod = float(np.sum(np.log1p(decay * np.arange(1, int(epoch) + 1))))
    else:
        a = 1 + 1 / decay
        log_prod = epoch * math.log(decay) + math.lgamma(epoch + a) - math.lgamma(a)
    return float(lr * math.exp(-log_prod))


def compounding_spec(
    lr: float, decay: float, epochs: int, source_epochs: float | None = None
) -> dict:
    """A ``piecewise_linear`` spec whose value at every integer epoch ``e < epochs`` is the
    compounding time-based rate at source epoch ``e * source_epochs / epochs`` (default: the same
    epoch).  Exact at the integer epochs an epoch-unit trainer evaluates; linear in between.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"time-based decay: epochs must be an integer >= 1; got {epochs!r}")
    ratio = 1.0 if source_epochs is None else source_epochs / epochs
    points = [[e, compounding_rate(lr, decay, e * ratio)] for e in range(max(epochs, 2))]
    return {"kind": "piecewise_linear", "points": points}
