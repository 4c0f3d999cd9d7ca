"""Fixtures shared by the dataset tests: tiny datasets in the real on-disk formats, the shared data."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from schedlab.lab.data.idx import write_idx

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture
def shared_data() -> Path:
    """The real MNIST / Fashion-MNIST files (``../shared/data`` beside the repository)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


def tiny_arrays(n_train: int, n_test: int, seed: int = 0) -> list[np.ndarray]:
    """Random uint8 images (n, 28, 28) and labels 0..9 for a train and a test split."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    ]


@pytest.fixture
def write_tiny_idx() -> Callable[..., list[np.ndarray]]:
    """``write(folder, n_train, n_test, gz=True)``: the four IDX files of a tiny dataset."""

    def write(folder: Path, n_train: int = 30, n_test: int = 12, gz: bool = True, seed: int = 0):
        folder.mkdir(parents=True, exist_ok=True)
        arrays = tiny_arrays(n_train, n_test, seed)
        for name, array in zip(IDX_NAMES, arrays, strict=True):
            write_idx(folder / (name + (".gz" if gz else "")), array)
        return arrays

    return write


@pytest.fixture
def write_tiny_cifar() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``write(folder, per_batch, n_test)``: ``cifar-10-batches-py`` in the real pickle format.

    Returns all images ``(n, 3072)`` uint8 and labels, training batches 1..5 then the test batch.
    """

    def write(folder: Path, per_batch: int = 4, n_test: int = 3, seed: int = 0):
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        n = 5 * per_batch + n_test
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for k, name in enumerate(names):
            rows = slice(k * per_batch, (k + 1) * per_batch if k < 5 else n)
            batch = {
                b"batch_label": name.encode(),
                b"labels": [int(v) for v in labels[rows]],
                b"data": data[rows],
                b"filenames": [b"x.png"] * len(data[rows]),
            }
            (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        return data, labels

    return write
