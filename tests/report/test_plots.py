"""Figures: the drawn data is the schedule's / the store's data; bad input is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

import schedlab
from schedlab.lab.runs.rows import EpochRow
from schedlab.report.plots import (
    figure_bytes,
    plot_comparison,
    plot_lr_finder,
    plot_run,
    plot_schedules,
    save_figure,
)


def test_plot_schedules_draws_every_value_with_labels():
    specs = ["cosine(lr=0.1, steps=100)", "warmup(constant(0.05), steps=10)"]
    fig = plot_schedules(specs, 100, steps_per_epoch=10)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == specs
    for line, spec in zip(lines, specs, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(100))
        np.testing.assert_array_equal(line.get_ydata(), schedlab.from_spec(spec)(np.arange(100.0)))
    fig.canvas.draw()
    top = ax.child_axes[0]  # the secondary epoch axis: steps 0..99 are epochs 0..9.9
    assert top.get_xlabel() == "epoch"
    np.testing.assert_allclose(top.get_xlim(), (0.0, 9.9))


def test_plot_schedules_log_scale_hides_zeros():
    fig = plot_schedules(["cosine(lr=0.1, steps=10)"], 20, log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    y = ax.get_lines()[0].get_ydata()
    assert np.isnan(y[10:]).all() and np.isfinite(y[:10]).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((["cosine(0.1, 10)"], 0), {}, "steps must be a positive integer; got 0"),
        ((["cosine(0.1, 10)"], 10), {"steps_per_epoch": 0}, "steps_per_epoch must be"),
        (([], 10), {}, "specs must name at least one schedule"),
        ((["cosine(0.1, 10)"], 10), {"labels": ["a", "b"]}, "labels must have one entry per spec"),
        ((["cosin(0.1, 10)"], 10), {}, "unknown schedule kind 'cosin'"),
    ],
)
def test_plot_schedules_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_schedules(*args, **kwargs)


def test_png_and_svg_output(tmp_path):
    fig = plot_schedules(["step(0.1, 5)"], 20)
    assert figure_bytes(fig, "png").startswith(b"\x89PNG\r\n\x1a\n")
    save_figure(fig, tmp_path / "a.svg")
    assert b"<svg" in (tmp_path / "a.svg").read_bytes()[:400]
    with pytest.raises(ValueError, match=r"out must end in \.png or \.svg; got '.*a\.pdf'"):
        save_figure(fig, tmp_path / "a.pdf")
    with pytest.raises(ValueError, match="figure format must be one of png, svg; got 'jpg'"):
        figure_bytes(fig, "jpg")


def _history(losses, accs, lrs):
    return [
        EpochRow(i, loss, a, loss + 0.1, a - 0.05, r, 0.0, False)
        for i, (loss, a, r) in enumerate(zip(losses, accs, lrs, strict=True))
    ]


def test_plot_run_means_over_seeds_with_band_and_rate_axis():
    a = _history([1.0, 0.5, 0.3], [0.6, 0.8, 0.9], [0.1, 0.05, 0.01])
    b = _history([1.2, 0.7, 0.5], [0.5, 0.7, 0.8], [0.1, 0.05, 0.01])
    fig = plot_run([a, b], step_lrs=np.repeat([0.1, 0.05, 0.01], 4))
    loss_ax = fig.axes[0]
    train = loss_ax.get_lines()[0]
    np.testing.assert_allclose(train.get_ydata(), [1.1, 0.6, 0.4])
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    band = next(c for c in loss_ax.collections if isinstance(c, PolyCollection))
    # the band is mean +- the sample standard deviation (ddof=1): |1.0 - 1.2| / sqrt(2) = 0.1414
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx(1.1 + 0.2 / np.sqrt(2))
    assert ys.min() == pytest.approx(0.4 - 0.2 / np.sqrt(2))
    rate_axes = [ax for ax in fig.axes if ax.get_ylabel() == "learning rate"]
    assert len(rate_axes) == 2  # loss and accuracy panels each have the rate on a twin axis
    np.testing.assert_allclose(rate_axes[0].get_lines()[0].get_ydata()[:12],
                               np.repeat([0.1, 0.05, 0.01], 4))  # fmt: skip


def test_plot_run_regression_has_no_accuracy_panel():
    h = [EpochRow(i, 1.0 / (i + 1), None, 1.0, None, 0.1, 0.0, False) for i in range(3)]
    fig = plot_run(h)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "learning rate"]
    with pytest.raises(ValueError, match="plot_run: runs must hold at least one epoch"):
        plot_run([])


def test_plot_comparison_one_panel_per_metric_and_log_when_wide():
    good = _history([1.0, 0.5], [0.6, 0.8], [0.1, 0.1])
    bad = _history([500.0, 300.0], [0.1, 0.1], [50.0, 50.0])
    fig = plot_comparison({"good": [good, good], "bad": [bad]})
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["validation loss", "validation accuracy", "learning rate"]
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_yscale() == "linear"
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [0.55, 0.75])
    with pytest.raises(ValueError, match="at least one run history"):
        plot_comparison({"x": []})


def test_plot_lr_finder_marks_suggestions():
    lrs = np.logspace(-5, 0, 50)
    losses = 2 - np.tanh(np.linspace(-2, 2, 50))
    fig = plot_lr_finder(lrs, losses, suggestions={"steepest descent": 1e-3})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert any(ln.get_label() == "steepest descent: 1.00e-03" for ln in ax.get_lines())
