"""Real, offline datasets for the lab: ``load_dataset(name)`` returns a normalized :class:`Dataset`.

``mnist`` and ``fashion-mnist`` (IDX files, 28x28 grey), ``cifar10`` (python-pickle batches, 3x32x32
colour), ``digits`` (scikit-learn's 8x8 digits, bundled with scikit-learn) and ``linreg`` (a
synthetic regression task, see :mod:`schedlab.lab.data.synthetic`). Files are searched as described in
:mod:`schedlab.lab.data.locate`, downloaded as in :mod:`schedlab.lab.data.download` when missing, and read
by :mod:`schedlab.lab.data.loaders`; this module splits and normalizes.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schedlab.errors import DataError
from schedlab.lab.data import splits
from schedlab.lab.data.loaders import LOADERS
from schedlab.validate import is_int

DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "digits", "linreg")


@dataclass(frozen=True, eq=False)  # arrays: compare datasets field by field, not with ==
class Dataset:
    """Train/validation/test splits of one task, as float32 arrays ready for a model.

    ``x_*`` have shape ``(n, *input_shape)`` and are normalized with the training split's
    per-channel (images) or per-feature (linreg) ``mean``/``std``: ``x = (raw - mean) / std``.
    ``y_*`` are int64 class labels (classification) or float32 targets of shape ``(n,)``
    (regression). ``mean``/``std`` are in units of the raw values scaled to [0, 1] for images
    (MNIST: about 0.1307 / 0.3081) and raw units for linreg features.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple[int, ...]
    task: str
    source: str
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __repr__(self) -> str:
        sizes = f"train={len(self.x_train)}, val={len(self.x_val)}, test={len(self.x_test)}"
        return f"Dataset({self.name!r}, {sizes}, input_shape={self.input_shape}, source={self.source!r})"


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    train_size: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`), split and normalized.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"digits"`` or ``"linreg"``.
        root: an existing data folder, searched first (then ``$SCHEDLAB_DATA``, caches,
            ``../shared/data``); also where missing files are downloaded.  A root that does not
            exist is an error (a typo must not silently read the data of another folder).
        train_size: number of samples drawn (fixed by ``seed``) from the official training split;
            ``None`` keeps them all. Validation samples are taken out of these.
        val_fraction: fraction of the ``train_size`` samples held out for validation, in [0, 1);
            0 makes the official test split double as the validation split.
        seed: seed of the subsample and of the validation split (not of the data itself).
        download: fetch missing MNIST/Fashion-MNIST/CIFAR-10 files from ``mirrors``.
        mirrors: base URLs tried in order (``{name}`` becomes the dataset name); default
            ``$SCHEDLAB_DATA_MIRRORS``, else the official mirrors.

    >>> ds = load_dataset("digits", train_size=500, val_fraction=0.2)
    >>> ds.x_train.shape, ds.x_val.shape, ds.x_test.shape
    ((400, 1, 8, 8), (100, 1, 8, 8), (360, 1, 8, 8))
    """
    _check_args(name, root, train_size, val_fraction, seed, download)
    x_train, y_train, x_test, y_test, scale, source = LOADERS[name](root, download, mirrors)
    train_idx, val_idx = splits.split_indices(len(x_train), train_size, float(val_fraction), seed)
    mean, std = splits.channel_stats(x_train[train_idx])

    def prepare(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None = None) -> tuple:
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        target = y.astype(np.float32 if name == "linreg" else np.int64)
        return splits.standardize(x, mean, std), target

    xt, yt = prepare(x_train, y_train, train_idx)
    xs, ys = prepare(x_test, y_test)
    xv, yv = prepare(x_train, y_train, val_idx) if len(val_idx) else (xs, ys)
    regression = name == "linreg"
    return Dataset(
        name=name,
        x_train=xt,
        y_train=yt,
        x_val=xv,
        y_val=yv,
        x_test=xs,
        y_test=ys,
        num_classes=0 if regression else 10,
        input_shape=tuple(int(s) for s in xt.shape[1:]),
        task="regression" if regression else "classification",
        source=source,
        mean=tuple(float(m) * scale for m in mean),
        std=tuple(float(s) * scale for s in std),
    )


def _check_args(
    name: object,
    root: object,
    train_size: object,
    val_fraction: object,
    seed: object,
    download: object,
) -> None:
    if name not in DATASETS:
        raise DataError(f"load_dataset: name must be one of {', '.join(DATASETS)}; got {name!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise DataError(
            f"load_dataset: root must be a path (str or os.PathLike) or None, got {root!r}"
        )
    if root is not None and not Path(root).expanduser().is_dir():
        state = "is a file" if Path(root).expanduser().exists() else "does not exist"
        raise DataError(
            f"load_dataset: root {str(root)!r} {state}; give an existing folder (create it first "
            "to download into it), or no root to search the usual places"
        )
    if train_size is not None and (not is_int(train_size) or train_size < 1):
        raise DataError(
            f"load_dataset: train_size must be a positive integer or None, got {train_size!r}"
        )
    if (
        not isinstance(val_fraction, numbers.Real)
        or isinstance(val_fraction, bool)
        or not (math.isfinite(val_fraction) and 0 <= val_fraction < 1)
    ):
        raise DataError(
            f"load_dataset: val_fraction must be a number in [0, 1), got {val_fraction!r}"
        )
    if not is_int(seed) or seed < 0:
        raise DataError(f"load_dataset: seed must be an integer >= 0, got {seed!r}")
    if not isinstance(download, bool):
        raise DataError(f"load_dataset: download must be True or False, got {download!r}")
