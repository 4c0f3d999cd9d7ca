"""The official train/test splits of every dataset, as raw arrays (before splitting/normalizing).

Each loader returns ``(x_train, y_train, x_test, y_test, value_scale, source)``: images as uint8
``(n, channels, height, width)``, linreg features as float64 ``(n, d)``; ``value_scale`` maps raw
values to [0, 1] (1/255 for pixels) and only affects the reported mean/std; ``source`` says where
the data came from.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from schedlab.errors import CorruptDatasetError
from schedlab.lab.data import catalog, synthetic
from schedlab.lab.data.cifar import read_cifar_batch
from schedlab.lab.data.download import ensure_files
from schedlab.lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from schedlab.lab.data.locate import Found, download_root, search_roots

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, str]
Root = str | os.PathLike | None
Mirrors = Sequence[str] | None
Loader = Callable[[Root, bool, Mirrors], Raw]


def _locate(name: str, root: Root, download: bool, mirrors: Mirrors) -> Found:
    return ensure_files(
        catalog.SOURCES[name],
        search_roots(root),
        download_to=download_root(root) if download else None,
        mirrors=mirrors,
    )


def _load_idx_dataset(name: str) -> Loader:
    def load(root: Root, download: bool, mirrors: Mirrors) -> Raw:
        found = _locate(name, root, download, mirrors)
        if found.layout.files == ("mnist.npz",):
            return (*_read_npz(found.paths["mnist.npz"]), 1 / 255, str(found.paths["mnist.npz"]))
        parts = [_read_idx_cached(found.paths[f], _magic(f)) for f in catalog.IDX_FILES]
        _check_pairs(parts, [found.paths[f] for f in catalog.IDX_FILES])
        xtr, ytr, xte, yte = parts
        return xtr[:, None], ytr, xte[:, None], yte, 1 / 255, str(found.folder)

    return load


def _magic(file_name: str) -> int:
    return IMAGES_MAGIC if "images" in file_name else LABELS_MAGIC


@functools.lru_cache(maxsize=8)
def _read_idx_file(path: str, magic: int, _stamp: tuple[int, int]) -> np.ndarray:
    return read_idx(path, magic)


def _read_idx_cached(path: Path, magic: int) -> np.ndarray:
    """Read-only decoded IDX array, kept in memory while the file is unchanged."""
    st = path.stat()
    return _read_idx_file(str(path), magic, (st.st_size, st.st_mtime_ns))


def _check_pairs(parts: list[np.ndarray], paths: list[Path]) -> None:
    """Images 28x28 with one label per image, labels in 0..9."""
    for images, labels, ip, lp in (
        (parts[0], parts[1], *paths[:2]),
        (parts[2], parts[3], *paths[2:]),
    ):
        if images.shape[1:] != (28, 28):
            raise CorruptDatasetError(f"{ip}: expected 28x28 images, got {images.shape[1:]}")
        if len(images) != len(labels):
            raise CorruptDatasetError(
                f"{ip} holds {len(images)} images but {lp} holds {len(labels)} labels; "
                f"expected one label per image"
            )
        if len(labels) and labels.max() > 9:
            raise CorruptDatasetError(f"{lp}: labels must be 0..9, found {int(labels.max())}")


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    """Keras' ``mnist.npz``: ``x_train (n, 28, 28)``, ``y_train``, ``x_test``, ``y_test`` uint8."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [np.asarray(f[k]) for k in keys]
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptDatasetError(
            f"{path}: not a Keras mnist.npz with arrays {', '.join(keys)}: {exc}"
        ) from exc
    if any(a.dtype != np.uint8 for a in arrays) or arrays[0].ndim != 3 or arrays[2].ndim != 3:
        raise CorruptDatasetError(
            f"{path}: expected uint8 x_train/x_test of shape (n, 28, 28) and uint8 labels, "
            f"got {[(a.dtype.name, a.shape) for a in arrays]}"
        )
    _check_pairs(arrays, [path] * 4)
    xtr, ytr, xte, yte = arrays
    return xtr[:, None], ytr, xte[:, None], yte


def _load_cifar10(root: Root, download: bool, mirrors: Mirrors) -> Raw:
    found = _locate("cifar10", root, download, mirrors)
    batches = [read_cifar_batch(found.paths[f]) for f in catalog.CIFAR_FILES]
    for f, (_, labels) in zip(catalog.CIFAR_FILES, batches, strict=True):
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise CorruptDatasetError(f"{found.paths[f]}: labels must be 0..9")
    x_train = np.concatenate([x for x, _ in batches[:5]])
    y_train = np.concatenate([y for _, y in batches[:5]])
    return x_train, y_train, *batches[5], 1 / 255, str(found.folder)


DIGITS_TEST = 360  # fixed test split of scikit-learn's 1,797 digits (seed 0), about 20%


def _load_digits(root: Root, download: bool, mirrors: Mirrors) -> Raw:
    """scikit-learn's 8x8 digits (values 0..16); a fixed random test split of 360 samples."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images.astype(np.uint8)[:, None]  # 0..16, exact in uint8
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    test, train = np.sort(order[:DIGITS_TEST]), np.sort(order[DIGITS_TEST:])
    return x[train], y[train], x[test], y[test], 1 / 16, "sklearn.datasets.load_digits"


def _load_linreg(root: Root, download: bool, mirrors: Mirrors) -> Raw:
    x_train, y_train, x_test, y_test, _, _ = synthetic.linreg_task()
    source = (
        f"synthetic linreg (seed {synthetic.LINREG_SEED}, {synthetic.LINREG_FEATURES} features, "
        f"noise std {synthetic.LINREG_NOISE})"
    )
    return x_train, y_train, x_test, y_test, 1.0, source


LOADERS: dict[str, Loader] = {
    "mnist": _load_idx_dataset("mnist"),
    "fashion-mnist": _load_idx_dataset("fashion-mnist"),
    "cifar10": _load_cifar10,
    "digits": _load_digits,
    "linreg": _load_linreg,
}
