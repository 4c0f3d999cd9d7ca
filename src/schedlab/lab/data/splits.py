"""Subsampling, the validation split and normalization, shared by every dataset.

Splits are drawn from the official training split only; the official test split is never touched.
Normalization statistics come from the training split alone (no leakage from validation or test)
and are applied to every split.
"""

from __future__ import annotations

import math

import numpy as np

from schedlab.errors import DataError

_CHUNK = 1 << 18  # elements per chunk (exact uint8 sums, float64 standardisation)


def split_indices(
    n: int, train_size: int | None, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices ``(train, val)`` into ``n`` official training samples.

    A random subset of ``train_size`` samples (all ``n`` when ``None``) is drawn with
    ``numpy.random.default_rng(seed)``; its first ``round(val_fraction * train_size)`` samples (at
    least one when ``val_fraction > 0``) form the validation split, the rest the training split.
    """
    size = n if train_size is None else train_size
    if not 1 <= size <= n:
        raise DataError(f"train_size must be an integer in [1, {n}] or None, got {train_size!r}")
    n_val = max(1, round(val_fraction * size)) if val_fraction > 0 else 0
    if n_val >= size:
        raise DataError(
            f"val_fraction={val_fraction!r} of train_size={size} leaves no training samples; "
            f"use a smaller val_fraction or a larger train_size"
        )
    chosen = np.random.default_rng(seed).permutation(n)[:size]
    return np.sort(chosen[n_val:]), np.sort(chosen[:n_val])


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (float64) of each channel (axis 1) of ``x`` over all other axes.

    uint8 data is summed exactly in integers (no BLAS threads), in about 0.03 s for the 37M pixels
    of MNIST's training split.
    """
    if x.dtype != np.uint8:
        axes = (0, *range(2, x.ndim))
        return x.mean(axis=axes, dtype=np.float64), x.std(axis=axes, dtype=np.float64)
    mean, std = np.empty(x.shape[1]), np.empty(x.shape[1])
    for c in range(x.shape[1]):
        flat = np.ascontiguousarray(x[:, c]).reshape(-1)
        s1 = s2 = 0
        for i in range(0, flat.size, _CHUNK):
            chunk = flat[i : i + _CHUNK].astype(np.uint32)
            s1 += int(chunk.sum(dtype=np.uint64))
            s2 += int(np.multiply(chunk, chunk).sum(dtype=np.uint64))
        mean[c] = s1 / flat.size
        std[c] = np.sqrt(max(s2 / flat.size - mean[c] ** 2, 0.0))
    return mean, std


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per channel (axis 1) as a new float32 array; zero std counts as 1.

    Computed in float64 and rounded once (in chunks of samples, to bound memory): subtracting a
    float32-rounded mean would cost up to ``eps32 * |mean| / std`` (e.g. 6e-5 for pixels near 129
    with std 0.3).
    """
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean64 = np.asarray(mean, dtype=np.float64).reshape(shape)
    inv = (1.0 / np.where(std > 0, std, 1.0)).reshape(shape)
    out = np.empty(x.shape, dtype=np.float32)
    rows = max(1, _CHUNK // max(1, math.prod(x.shape[1:])))
    for i in range(0, len(x), rows):
        np.multiply(x[i : i + rows] - mean64, inv, out=out[i : i + rows], casting="same_kind")
    return out
