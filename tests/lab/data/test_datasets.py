"""load_dataset on the real data: shapes, content, splits, normalization, argument checks."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from schedlab.lab import DATASETS, Dataset, load_dataset
from schedlab.lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from schedlab.lab.data.splits import channel_stats, split_indices, standardize
from schedlab.lab.data.synthetic import LINREG_NOISE, linreg_task

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_SHA256 = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"


def test_mnist_full_load_matches_the_published_facts(shared_data):
    ds = load_dataset("mnist", root=shared_data, val_fraction=0)
    assert isinstance(ds, Dataset)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert (ds.num_classes, ds.input_shape, ds.task) == (10, (1, 28, 28), "classification")
    assert ds.source == str(shared_data / "mnist")
    assert np.bincount(ds.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.y_test).tolist() == MNIST_TEST_COUNTS
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert ds.mean[0] == pytest.approx(0.1307, abs=5e-5)
    assert ds.std[0] == pytest.approx(0.3081, abs=5e-5)
    assert ds.x_val is ds.x_test and ds.y_val is ds.y_test  # val_fraction=0: test doubles as val


def test_mnist_pixels_are_the_canonical_content(shared_data):
    """The decoded training images hash to the published sha256 of the uncompressed IDX file, and
    the normalized arrays map back to those pixels."""
    raw = read_idx(shared_data / "mnist" / "train-images-idx3-ubyte.gz", IMAGES_MAGIC)
    header = np.array([IMAGES_MAGIC, 60000, 28, 28], dtype=">u4").tobytes()
    assert hashlib.sha256(header + raw.tobytes()).hexdigest() == MNIST_TRAIN_SHA256
    ds = load_dataset("mnist", root=shared_data, val_fraction=0)
    back = ds.x_train[:500, 0] * ds.std[0] + ds.mean[0]
    np.testing.assert_allclose(back, raw[:500] / 255, atol=2e-6)


def test_full_mnist_default_split_sizes(shared_data):
    ds = load_dataset("mnist", root=shared_data)
    assert len(ds.x_train) == 48000 and len(ds.x_val) == 12000 and len(ds.x_test) == 10000
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (1, 28, 28)


def test_fashion_mnist_is_balanced_and_distinct_from_mnist(shared_data):
    ds = load_dataset("fashion-mnist", root=shared_data, val_fraction=0)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.mean[0] == pytest.approx(0.2860, abs=1e-4)
    assert ds.std[0] == pytest.approx(0.3530, abs=1e-4)
    assert ds.source == str(shared_data / "fashion-mnist")


def test_subsample_and_validation_split(shared_data):
    a = load_dataset("mnist", root=shared_data, train_size=1000, val_fraction=0.2, seed=3)
    b = load_dataset("mnist", root=shared_data, train_size=1000, val_fraction=0.2, seed=3)
    c = load_dataset("mnist", root=shared_data, train_size=1000, val_fraction=0.2, seed=4)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (800, 200, 10000)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_train, c.y_train)
    train_rows = {row.tobytes() for row in a.x_train.reshape(800, -1)}
    assert not any(row.tobytes() in train_rows for row in a.x_val.reshape(200, -1))


def test_normalization_uses_training_split_statistics_only():
    ds = load_dataset("linreg", val_fraction=0.25, seed=1)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-5)
    x_train, _, x_test, _, _, _ = linreg_task()
    train_idx, _ = split_indices(len(x_train), None, 0.25, 1)
    mean, std = x_train[train_idx].mean(axis=0), x_train[train_idx].std(axis=0)
    np.testing.assert_allclose(ds.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(ds.x_test, (x_test - mean) / std, rtol=1e-5, atol=1e-5)


def test_linreg_task_recovers_its_generating_weights():
    ds = load_dataset("linreg", val_fraction=0)
    assert (ds.task, ds.num_classes, ds.input_shape) == ("regression", 0, (10,))
    assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (1000,)
    raw = ds.x_train * np.array(ds.std) + np.array(ds.mean)
    design = np.c_[raw, np.ones(len(raw))]
    coef, *_ = np.linalg.lstsq(design, ds.y_train.astype(np.float64), rcond=None)
    _, _, _, _, w, b = linreg_task()
    np.testing.assert_allclose(coef[:-1], w, atol=0.02)
    assert coef[-1] == pytest.approx(b, abs=0.02)
    residual = ds.y_train - design @ coef
    assert residual.std() == pytest.approx(LINREG_NOISE, rel=0.1)
    np.testing.assert_array_equal(load_dataset("linreg", val_fraction=0).y_test, ds.y_test)


def test_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", val_fraction=0)
    ref = load_digits()
    assert ds.input_shape == (1, 8, 8) and (len(ds.x_train), len(ds.x_test)) == (1437, 360)
    counts = np.bincount(np.r_[ds.y_train, ds.y_test], minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(ref.target))
    back = np.r_[ds.x_train, ds.x_test][:, 0] * ds.std[0] + ds.mean[0]
    pixels = {row.tobytes() for row in np.round(back * 16).astype(np.uint8).reshape(-1, 64)}
    assert pixels == {row.tobytes() for row in ref.images.astype(np.uint8).reshape(-1, 64)}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "mnist2"}, ["name", "mnist, fashion-mnist, cifar10, digits, linreg", "'mnist2'"]),
        ({"train_size": 0}, ["train_size", "positive integer", "0"]),
        ({"train_size": True}, ["train_size", "True"]),
        ({"train_size": 5000}, ["train_size", "[1, 1437]", "5000"]),
        ({"val_fraction": 1.0}, ["val_fraction", "[0, 1)", "1.0"]),
        ({"val_fraction": float("nan")}, ["val_fraction", "nan"]),
        ({"train_size": 1, "val_fraction": 0.5}, ["val_fraction=0.5", "no training samples"]),
        ({"seed": -1}, ["seed", ">= 0", "-1"]),
        ({"download": "yes"}, ["download", "True or False", "'yes'"]),
        ({"root": 3}, ["root", "path", "3"]),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, words):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(ValueError) as info:
        load_dataset(kwargs.pop("name"), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_dataset_names_are_the_agreed_interface():
    assert DATASETS == ("mnist", "fashion-mnist", "cifar10", "digits", "linreg")


def test_importing_the_lab_package_loads_no_framework():
    code = (
        "import sys, schedlab.lab; "
        "bad = [m for m in ('torch', 'sklearn', 'keras', 'jax', 'ray', 'matplotlib') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 500),
    size=st.one_of(st.none(), st.integers(1, 500)),
    val_fraction=st.floats(0, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_indices_properties(n, size, val_fraction, seed):
    size = None if size is None else min(size, n)
    total = n if size is None else size
    n_val = max(1, round(val_fraction * total)) if val_fraction > 0 else 0
    if n_val >= total:
        with pytest.raises(ValueError, match="val_fraction"):
            split_indices(n, size, val_fraction, seed)
        return
    train, val = split_indices(n, size, val_fraction, seed)
    assert len(train) + len(val) == total and len(val) == n_val
    assert not set(train.tolist()) & set(val.tolist())
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert train.min(initial=0) >= 0 and max(train.max(initial=0), val.max(initial=0)) < n
    again = split_indices(n, size, val_fraction, seed)
    np.testing.assert_array_equal(train, again[0])


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 20), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)),
    )
)
def test_exact_uint8_channel_stats_agree_with_numpy(x):
    mean, std = channel_stats(x)
    ref = x.astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=(0, 2, 3)), rtol=1e-9, atol=1e-9)
    z = standardize(x, mean, std)
    assert z.dtype == np.float32
    expected = (ref - mean[None, :, None, None]) / np.where(std > 0, std, 1)[None, :, None, None]
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)


def test_label_files_decode_to_uint8_vectors(shared_data):
    labels = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)
    assert labels.shape == (10000,) and labels.dtype == np.uint8
