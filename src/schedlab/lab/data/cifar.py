"""Reader for CIFAR-10 in the python-pickle batch format (``cifar-10-batches-py/``).

Each batch file is a pickled dict with ``data`` (uint8, shape ``(n, 3072)``: 1024 red, 1024 green,
1024 blue values per image, row-major 32x32) and ``labels`` (``n`` ints in 0..9); keys may be
``bytes`` (Python 2 pickles read with latin-1) or ``str``. Unpickling is restricted to numpy's
array classes, so a batch file cannot run code.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import CorruptDatasetError

_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # protocol-2 pickles written by Python 3 store bytes this way
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that only builds plain containers and numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        canonical = module.replace("numpy.core.", "numpy._core.")  # numpy 1 pickles, numpy 2 names
        if (canonical, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        try:
            return super().find_class(canonical, name)
        except ImportError:  # numpy 1.x has no numpy._core
            return super().find_class(module, name)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3, 32, 32)`` uint8 and labels ``(n,)`` int64 of one CIFAR-10 batch file."""
    try:
        with Path(path).open("rb") as fh:
            batch = _BatchUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise CorruptDatasetError(
            f"{path}: not a CIFAR-10 python batch (a pickled dict with data and labels): {exc}"
        ) from exc
    if not isinstance(batch, dict):
        raise CorruptDatasetError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise CorruptDatasetError(
            f"{path}: expected keys 'data' and 'labels', got {sorted(map(str, batch))}"
        )
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise CorruptDatasetError(
            f"{path}: data must be uint8 of shape (n, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise CorruptDatasetError(
            f"{path}: labels must be {data.shape[0]} integers (one per image), "
            f"got {labels.dtype} {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)
