"""Finding files (search order, layouts), reading IDX / npz / CIFAR batches, and corrupt files."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from schedlab.errors import SchedlabError
from schedlab.lab import CorruptDatasetError, DatasetNotFoundError, load_dataset
from schedlab.lab.data.catalog import MNIST
from schedlab.lab.data.cifar import read_cifar_batch
from schedlab.lab.data.download import ensure_files
from schedlab.lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_idx, write_idx
from schedlab.lab.data.locate import search_roots


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No user caches: HOME, XDG_CACHE_HOME, KERAS_HOME and the cwd all point into tmp_path."""
    home = tmp_path / "home"
    work = tmp_path / "work" / "repo"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.delenv("SCHEDLAB_DATA", raising=False)
    monkeypatch.delenv("SCHEDLAB_DATA_MIRRORS", raising=False)
    monkeypatch.chdir(work)
    return tmp_path


def _load(**kwargs):
    return load_dataset("mnist", val_fraction=0, download=False, **kwargs)


def test_search_order_root_env_cache_cwd_keras_shared(
    clean_env, write_tiny_idx, shared_data, monkeypatch
):
    tmp = clean_env
    # each candidate holds a tiny dataset with a distinct number of training samples
    write_tiny_idx(tmp / "explicit" / "MNIST" / "raw", n_train=11, gz=False)  # torchvision layout
    write_tiny_idx(tmp / "env" / "mnist", n_train=12)
    write_tiny_idx(tmp / "home" / ".cache" / "schedlab" / "mnist", n_train=13)
    write_tiny_idx(tmp / "work" / "repo" / "data" / "MNIST" / "raw", n_train=14)
    (tmp / "home" / ".keras" / "datasets").mkdir(parents=True)
    np.savez(tmp / "home" / ".keras" / "datasets" / "mnist.npz", **_tiny_keras(15))
    write_tiny_idx(tmp / "work" / "shared" / "data" / "mnist", n_train=16)
    monkeypatch.setenv("SCHEDLAB_DATA", str(tmp / "env"))

    expected = [
        (tmp / "explicit" / "MNIST" / "raw", 11),
        (tmp / "env" / "mnist", 12),
        (tmp / "home" / ".cache" / "schedlab" / "mnist", 13),
        (tmp / "work" / "repo" / "data" / "MNIST" / "raw", 14),
        (tmp / "home" / ".keras" / "datasets" / "mnist.npz", 15),
        (tmp / "work" / "shared" / "data" / "mnist", 16),
        (shared_data / "mnist", 60000),  # ../shared/data beside the repository of the package
    ]
    for place, n in expected:
        ds = _load(root=tmp / "explicit") if n == 11 else _load()
        assert (ds.source, len(ds.x_train)) == (str(place), n)
        path = place.parent.parent if n in (11, 14) else place
        if n != 60000:
            os.rename(path, str(path) + ".off")  # hide it: the next candidate must be found


def _tiny_keras(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    return {
        "x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 4, dtype=np.uint8),
    }


def test_keras_npz_content_is_read_exactly(tmp_path):
    arrays = _tiny_keras(9)
    np.savez(tmp_path / "mnist.npz", **arrays)
    ds = _load(root=tmp_path)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    back = ds.x_test[:, 0] * ds.std[0] + ds.mean[0]
    np.testing.assert_allclose(back, arrays["x_test"] / 255, atol=2e-6)


@pytest.mark.parametrize("gz", [True, False])
def test_tiny_idx_round_trip_through_load_dataset(tmp_path, write_tiny_idx, gz):
    xtr, ytr, _, yte = write_tiny_idx(tmp_path / "mnist", n_train=20, n_test=7, gz=gz)
    ds = _load(root=tmp_path)
    assert ds.source == str(tmp_path / "mnist")
    np.testing.assert_array_equal(ds.y_train, ytr)
    np.testing.assert_array_equal(ds.y_test, yte)
    back = ds.x_train[:, 0] * ds.std[0] + ds.mean[0]
    np.testing.assert_allclose(back, xtr / 255, atol=2e-6)
    assert ds.mean[0] == pytest.approx(xtr.mean() / 255, rel=1e-12)


def test_missing_files_name_every_folder_and_file(tmp_path, write_tiny_idx):
    (tmp_path / "a" / "mnist").mkdir(parents=True)
    write_idx(
        tmp_path / "a" / "mnist" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8)
    )
    roots = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(DatasetNotFoundError) as info:
        ensure_files(MNIST, roots, download_to=None)
    text = str(info.value)
    for folder in ["a/mnist", "a/MNIST/raw", "b/mnist", "b/MNIST/raw", "b: no such folder"]:
        assert str(tmp_path / folder) in text or folder in text
    assert "missing train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz" in text
    assert "mnist.npz" in text and "download=False" in text
    assert isinstance(info.value, SchedlabError)  # the CLI prints it as one line


def test_default_search_includes_env_and_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("SCHEDLAB_DATA", os.pathsep.join([str(tmp_path / "x"), str(tmp_path / "y")]))
    roots = search_roots(tmp_path / "r")
    assert roots[:3] == [tmp_path / "r", tmp_path / "x", tmp_path / "y"]
    repo = Path(__file__).resolve().parents[3]
    assert roots[-1] == repo.parent / "shared" / "data"
    assert len(set(roots)) == len(roots)


IMG = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)


@pytest.mark.parametrize(
    ("data", "magic", "words"),
    [
        (b"\x00\x00\x08", IMAGES_MAGIC, ["too short", "expected magic 2051"]),
        (np.array([2051, 2], ">u4").tobytes(), IMAGES_MAGIC, ["8 bytes", "16-byte header"]),
        (np.array([2049, 2], ">u4").tobytes() + b"\x01\x02", IMAGES_MAGIC, ["magic number 2049", "expected magic 2051 (0x00000803)"]),
        (np.array([2051, 2, 28, 28], ">u4").tobytes() + IMG.tobytes()[:-5], IMAGES_MAGIC,
         ["wrong size", "1,579 bytes", "expected 1,584", "2x28x28"]),
        (np.array([2049, 3], ">u4").tobytes() + b"\x01\x02\x03\x04", LABELS_MAGIC,
         ["wrong size", "12 bytes", "expected 11", "8-byte header"]),
    ],
)  # fmt: skip
def test_corrupt_idx_content_says_what_was_expected(data, magic, words):
    with pytest.raises(CorruptDatasetError) as info:
        parse_idx(data, magic, "some/file")
    for word in ["some/file", *words]:
        assert word in str(info.value)


def test_damaged_gzip_and_inconsistent_files_are_reported(tmp_path, write_tiny_idx):
    write_tiny_idx(tmp_path / "mnist", n_train=20, n_test=7)
    images = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    good = images.read_bytes()
    images.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptDatasetError, match=r"damaged gzip file.*download again") as info:
        read_idx(images, IMAGES_MAGIC)
    assert str(images) in str(info.value)
    images.write_bytes(good)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(CorruptDatasetError, match=r"7 images but .* 6 labels"):
        _load(root=tmp_path)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.full(7, 10, np.uint8))
    with pytest.raises(CorruptDatasetError, match=r"labels must be 0\.\.9, found 10"):
        _load(root=tmp_path)


def test_corrupt_keras_npz_is_reported(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(CorruptDatasetError, match=r"mnist\.npz.*x_train, y_train, x_test, y_test"):
        _load(root=tmp_path)


def test_gzip_and_plain_idx_read_the_same(tmp_path):
    write_idx(tmp_path / "a.gz", IMG)
    write_idx(tmp_path / "a", IMG)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == (tmp_path / "a").read_bytes()
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", IMAGES_MAGIC), IMG)
    np.testing.assert_array_equal(read_idx(tmp_path / "a", IMAGES_MAGIC), IMG)
    with pytest.raises(ValueError, match="uint8 with 1 or 3 dimensions, got int64"):
        write_idx(tmp_path / "b", np.zeros((2, 2), np.int64))


def test_cifar10_from_python_batches(tmp_path, write_tiny_cifar):
    data, labels = write_tiny_cifar(tmp_path / "cifar-10-batches-py", per_batch=4, n_test=3)
    ds = load_dataset("cifar10", root=tmp_path, val_fraction=0, download=False)
    assert (ds.input_shape, ds.num_classes, ds.source) == (
        (3, 32, 32),
        10,
        str(tmp_path / "cifar-10-batches-py"),
    )
    assert (len(ds.x_train), len(ds.x_test)) == (20, 3)
    np.testing.assert_array_equal(ds.y_train, labels[:20])
    np.testing.assert_array_equal(ds.y_test, labels[20:])
    raw = data.reshape(-1, 3, 32, 32)
    for c in range(3):  # per-channel statistics; channel 0 is the first 1024 values (red)
        assert ds.mean[c] == pytest.approx(raw[:20, c].mean() / 255, rel=1e-12)
        back = ds.x_test[:, c] * ds.std[c] + ds.mean[c]
        np.testing.assert_allclose(back, raw[20:, c] / 255, atol=2e-6)
    np.testing.assert_allclose(ds.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    sub = load_dataset("cifar10", root=tmp_path, train_size=10, val_fraction=0.3, download=False)
    assert (len(sub.x_train), len(sub.x_val)) == (7, 3)


def test_cifar10_keras3_layout(tmp_path, write_tiny_cifar):
    write_tiny_cifar(tmp_path / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    ds = load_dataset("cifar10", root=tmp_path, val_fraction=0, download=False)
    assert ds.source.endswith("cifar-10-batches-py-target/cifar-10-batches-py")


def test_corrupt_cifar_batches_are_reported(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))
    with pytest.raises(CorruptDatasetError, match="expected keys 'data' and 'labels'"):
        read_cifar_batch(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(
        CorruptDatasetError, match=r"uint8 of shape \(n, 3072\), got uint8 \(2, 100\)"
    ):
        read_cifar_batch(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}))
    with pytest.raises(CorruptDatasetError, match="2 integers"):
        read_cifar_batch(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(CorruptDatasetError, match="not a CIFAR-10 python batch"):
        read_cifar_batch(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_batches_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}))
    with pytest.raises(CorruptDatasetError, match="refusing to load"):
        read_cifar_batch(path)
    assert not (tmp_path / "pwned").exists()
