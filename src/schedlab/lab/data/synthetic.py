"""The synthetic linear-regression task ``linreg``: ``y = X w + b + noise``.

Fixed by construction (task seed 0, independent of the split seed): 1,000 training and 1,000 test
samples, 10 features ``X ~ N(0, 1)``, weights ``w ~ N(0, 1)``, bias ``b ~ N(0, 1)``, Gaussian noise
with standard deviation 0.1. The best achievable mean squared error is therefore about 0.01.
"""

from __future__ import annotations

import numpy as np

LINREG_TRAIN = 1_000
LINREG_TEST = 1_000
LINREG_FEATURES = 10
LINREG_NOISE = 0.1
LINREG_SEED = 0


def linreg_task() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """``(x_train, y_train, x_test, y_test, w, b)`` in float64; the same on every call."""
    rng = np.random.default_rng(LINREG_SEED)
    w = rng.standard_normal(LINREG_FEATURES)
    b = float(rng.standard_normal())
    x = rng.standard_normal((LINREG_TRAIN + LINREG_TEST, LINREG_FEATURES))
    y = x @ w + b + LINREG_NOISE * rng.standard_normal(len(x))
    return x[:LINREG_TRAIN], y[:LINREG_TRAIN], x[LINREG_TRAIN:], y[LINREG_TRAIN:], w, b
