"""The LR range test against the reference package torch-lr-finder, on real MNIST."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import schedlab
from schedlab.adapters.lr_finder import find_lr, steepest_descent
from schedlab.lab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from schedlab.report.plots import plot_range_test


@pytest.fixture(scope="module")
def mnist(data_root):
    torch.set_num_threads(1)
    x = read_idx(data_root / "mnist" / "t10k-images-idx3-ubyte.gz", IMAGES_MAGIC)[:3000]
    y = read_idx(data_root / "mnist" / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)[:3000]
    x = (x.reshape(-1, 784).astype(np.float32) / 255 - 0.1307) / 0.3081
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def _loader(data, seed=1):
    return DataLoader(
        data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def test_same_curve_and_steepest_suggestion_as_torch_lr_finder(mnist):
    torch_lr_finder = pytest.importorskip("torch_lr_finder")
    import matplotlib.pyplot as plt

    model = _model()
    init = copy.deepcopy(model.state_dict())
    ours = find_lr(model, _loader(mnist), torch.optim.SGD(model.parameters(), lr=0.1),
                   nn.CrossEntropyLoss(), num_steps=100, diverge_factor=4)  # fmt: skip

    ref_model = _model()
    ref_model.load_state_dict(init)
    finder = torch_lr_finder.LRFinder(ref_model, torch.optim.SGD(ref_model.parameters(), lr=0.1),
                                      nn.CrossEntropyLoss(), device="cpu")  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(_loader(mnist), start_lr=1e-7, end_lr=10, num_iter=100, smooth_f=0.05,
                          diverge_th=4)  # fmt: skip
        _, ref_suggestion = finder.plot(skip_start=10, skip_end=5, suggest_lr=True)
    plt.close("all")

    assert ours.diverged and len(ours.lrs) < 100  # the ramp went far enough to blow up
    assert len(finder.history["lr"]) == len(ours.lrs)
    np.testing.assert_allclose(ours.lrs, finder.history["lr"], rtol=1e-12)
    np.testing.assert_allclose(ours.losses, finder.history["loss"], rtol=1e-5)
    assert ours.steepest == pytest.approx(ref_suggestion, rel=1e-12)
    assert ours.min_loss == pytest.approx(ours.lrs[np.argmin(ours.losses)] / 10)


def test_model_and_optimizer_are_restored_and_specs_are_valid(mnist):
    model = _model()
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = find_lr(model, _loader(mnist), opt, nn.CrossEntropyLoss(), num_steps=60)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert opt.param_groups[0]["lr"] == 0.1 and not opt.state
    np.testing.assert_allclose(np.diff(np.log(result.lrs)), np.log(1e8) / 59)  # exponential ramp
    one = schedlab.from_spec(repr(result.one_cycle(500)))
    assert one.kind == "one_cycle" and one.params["max_lr"] == pytest.approx(
        result.max_lr, rel=2e-3
    )
    cyc = result.cyclic(100)
    assert cyc.params["max_lr"] == pytest.approx(4 * cyc.params["min_lr"], rel=1e-2)
    fig = plot_range_test(result)
    assert fig.axes[0].get_xscale() == "log"


def test_stops_at_divergence(mnist):
    torch.manual_seed(0)
    model = nn.Linear(784, 10)  # no ReLU to die: the loss really blows up
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    result = find_lr(model, _loader(mnist), opt, nn.CrossEntropyLoss(), start_lr=1e-3,
                     end_lr=1e4, num_steps=200, smooth=0.0)  # fmt: skip
    assert result.diverged and len(result.lrs) < 200
    assert result.losses[-1] > 4 * result.losses.min() or not np.isfinite(result.raw_losses[-1])


def test_steepest_descent_ignores_the_tail_after_the_minimum():
    lrs = np.logspace(-6, 1, 40)
    losses = np.concatenate([np.linspace(2.0, 1.0, 30), [1.2, 3.0, 2.0, 1.05, 3.0, 3, 3, 3, 3, 3]])
    # torch-lr-finder would pick the noisy drop 2.0 -> 1.05 past the minimum; we stay left of it
    assert steepest_descent(lrs, losses, 0, 0) < lrs[30]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 0.0}, "find_lr: start_lr must be a finite number > 0; got 0.0"),
        ({"end_lr": 1e-8}, "find_lr: end_lr must be a finite number > start_lr; got 1e-08"),
        ({"num_steps": 1}, "find_lr: num_steps must be an integer >= 2; got 1"),
        ({"smooth": 1.0}, r"find_lr: smooth must be a number in \[0, 1\); got 1.0"),
        ({"diverge_factor": 1}, "find_lr: diverge_factor must be a number > 1; got 1"),
    ],
)
def test_bad_arguments(mnist, kwargs, match):
    model = _model()
    with pytest.raises(ValueError, match=match):
        find_lr(model, _loader(mnist), torch.optim.SGD(model.parameters(), lr=0.1),
                nn.CrossEntropyLoss(), **kwargs)  # fmt: skip


def test_empty_loader_is_a_clear_error():
    model = _model()
    with pytest.raises(ValueError, match="loader must yield at least one batch"):
        find_lr(model, [], torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
