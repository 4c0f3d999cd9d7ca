"""Matplotlib figures (Agg backend, no display needed): schedule curves, run curves, comparisons.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (so nothing
is kept in a global registry and nothing needs a display); :func:`figure_bytes` renders one as PNG
or SVG for files and for embedding in the HTML report.

Run data uses the :class:`schedlab.lab.runs.store.RunStore` shapes: a run's history is a list of epoch
dicts with ``epoch`` (0-based), ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` and ``lr``
(accuracies may be ``None`` for regression).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from schedlab.errors import ConfigError
from schedlab.schedules import from_spec

if TYPE_CHECKING:
    from schedlab.adapters.lr_finder import LRFinderResult

#: one run's epochs: store rows (:class:`~schedlab.lab.runs.rows.EpochRow`) or trainer records
History = Sequence[Any]
FORMATS = ("png", "svg")
_COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
]
_LR_COLOR = "#555555"


def color(i: int) -> str:
    """The i-th colour of the palette (the same schedule keeps its colour across figures)."""
    return _COLORS[i % len(_COLORS)]


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """``fig`` rendered as ``png`` (100 dpi) or ``svg`` bytes."""
    if fmt not in FORMATS:
        raise ConfigError(f"figure format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Software": None} if fmt == "png" else {"Date": None})
    return buf.getvalue()


def save_figure(fig: Figure, path: Any) -> None:
    """Write ``fig`` to ``path``; the format comes from the suffix (``.png`` or ``.svg``)."""
    fmt = str(path).rsplit(".", 1)[-1].lower()
    if fmt not in FORMATS:
        raise ConfigError(f"out must end in .png or .svg; got {str(path)!r}")
    with open(path, "wb") as fh:
        fh.write(figure_bytes(fig, fmt))


# --- schedule curves --------------------------------------------------------------------------------


def plot_schedules(
    specs: Sequence[Any],
    steps: int,
    *,
    steps_per_epoch: int | None = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Learning-rate curves of ``specs`` over ``t = 0 .. steps-1`` (steps in the schedule's unit).

    ``steps_per_epoch`` adds a top axis in epochs (``epoch = t / steps_per_epoch``); ``log`` uses a
    logarithmic rate axis (zero rates are then not drawn); ``labels`` default to the spec text.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"plot_schedules: steps must be a positive integer; got {steps!r}")
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        raise ConfigError(
            f"plot_schedules: steps_per_epoch must be a positive integer; got {steps_per_epoch!r}"
        )
    if not specs:
        raise ConfigError("plot_schedules: specs must name at least one schedule; got none")
    schedules = [from_spec(s) for s in specs]
    if labels is not None and len(labels) != len(schedules):
        raise ConfigError(
            f"plot_schedules: labels must have one entry per spec ({len(schedules)}); "
            f"got {len(labels)}"
        )
    if labels is None:
        labels = [
            s.strip() if isinstance(s, str) else repr(b)
            for s, b in zip(specs, schedules, strict=True)
        ]
    names = list(labels)
    fig, (ax,) = _figure(8.0, 4.2)
    t = np.arange(steps, dtype=np.float64)
    for i, (schedule, name) in enumerate(zip(schedules, names, strict=True)):
        y = schedule(t)
        if log:
            y = np.where(y > 0, y, np.nan)
        kw = {"marker": "o", "markersize": 3} if steps <= 40 else {}
        ax.plot(t, y, color=color(i), linewidth=1.8, label=_short(name), **kw)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, max(steps - 1, 1))
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    if steps_per_epoch:
        top = ax.secondary_xaxis(
            "top", functions=(lambda x: x / steps_per_epoch, lambda e: e * steps_per_epoch)
        )
        top.set_xlabel("epoch")
    fig.legend(
        loc="outside lower center", ncols=2 if len(names) > 3 else 1, fontsize=8, frameon=False
    )
    ax.set_title(title or "Learning-rate schedules", fontsize=11)
    return fig


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- run curves -------------------------------------------------------------------------------------


def _column(history: History, key: str) -> np.ndarray:
    return np.array(
        [np.nan if getattr(r, key) is None else float(getattr(r, key)) for r in history],
        dtype=float,
    )


def _has(history: History, key: str) -> bool:
    return bool(np.isfinite(_column(history, key)).any())


def _lr_axis(ax: Axes, x: np.ndarray, lr: np.ndarray) -> Any:
    twin = ax.twinx()
    (line,) = twin.plot(
        x, lr, color=_LR_COLOR, linestyle="--", linewidth=1.2, drawstyle="steps-post"
    )
    twin.set_ylabel("learning rate", color=_LR_COLOR)
    twin.tick_params(axis="y", colors=_LR_COLOR, labelsize=8)
    twin.set_ylim(bottom=0)
    twin.spines[["top"]].set_visible(False)
    line.set_label("learning rate")
    return line


def plot_run(
    runs: History | Sequence[History],
    *,
    step_lrs: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """One schedule: train/val loss (left) and accuracy (right, if any) against epochs completed,
    the learning rate (dashed, right axis) drawn over the same epochs.

    ``runs`` is one run's history or several (seeds): then each curve is the seeds' mean with a
    band of +- one standard deviation.  With ``step_lrs`` (the rate at every optimizer step of a
    run) the rate is drawn per step; otherwise one rate per epoch.
    """
    group = [runs] if runs and hasattr(runs[0], "epoch") else list(runs)  # type: ignore[list-item]
    if not group or any(not h for h in group):
        raise ConfigError(
            "plot_run: runs must hold at least one epoch of at least one run; got none"
        )
    acc = any(_has(h, "train_acc") or _has(h, "val_acc") for h in group)
    fig, axes = _figure(10.0 if acc else 5.5, 3.6, 2 if acc else 1)
    length = max(len(h) for h in group)
    if step_lrs is not None and len(step_lrs) > 0:
        lr_y = np.asarray(step_lrs, dtype=float)
        lr_x = np.arange(len(lr_y)) * len(group[0]) / len(lr_y)
    else:
        lr_y = _column(group[0], "lr")
        lr_x = np.arange(len(lr_y), dtype=float)
    lr_x, lr_y = np.append(lr_x, len(group[0])), np.append(lr_y, lr_y[-1])
    panels = [("loss", "train_loss", "val_loss")]
    if acc:
        panels.append(("accuracy", "train_acc", "val_acc"))
    for ax, (name, train_key, val_key) in zip(axes, panels, strict=True):
        for i, (split, key) in enumerate((("train", train_key), ("val", val_key))):
            x, mean, low, high = _band(group, key)
            ax.plot(x, mean, color=color(i), marker="o", markersize=3, linewidth=1.6,
                    label=f"{split} {name}")  # fmt: skip
            if len(group) > 1:
                ax.fill_between(x, low, high, color=color(i), alpha=0.18, linewidth=0)
        ax.set_xlabel("epochs completed")
        ax.set_ylabel(name)
        ax.set_xlim(0, length + 0.2)
        lr_line = _lr_axis(ax, lr_x, lr_y)
        handles, names = ax.get_legend_handles_labels()
        ax.legend([*handles, lr_line], [*names, "learning rate"], fontsize=8, frameon=False,
                  loc="center right")  # fmt: skip
    if title:
        fig.suptitle(_short(title, 110), fontsize=10)
    return fig


def _band(
    runs: Sequence[History], key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, mean, low, high) of ``key`` over seeds; the band is mean +- one sample standard
    deviation (ddof=1, as the intervals use; NaNs skipped)."""
    length = max(len(r) for r in runs)
    data = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        data[i, : len(run)] = _column(run, key)
    with warnings.catch_warnings():  # epochs no seed reached: 'Mean of empty slice'
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(data, axis=0)
        std = np.nanstd(data, axis=0, ddof=1) if len(runs) > 1 else np.zeros(length)
    return np.arange(1, length + 1), mean, mean - std, mean + std


COMPARE_METRICS = (
    ("val_loss", "validation loss"),
    ("val_acc", "validation accuracy"),
    ("lr", "learning rate"),
)


def plot_comparison(
    groups: Mapping[str, Sequence[History]],
    *,
    metrics: Sequence[tuple[str, str]] = COMPARE_METRICS,
    log_loss: bool = False,
) -> Figure:
    """Schedules side by side, one panel per metric; each schedule is its seeds' mean line with a
    band of +- one standard deviation over seeds.  ``groups`` maps a label to its runs' histories.
    """
    if not groups or any(not runs for runs in groups.values()):
        raise ConfigError("plot_comparison: groups must map each label to at least one run history")
    shown = [(k, n) for k, n in metrics if any(_has(r, k) for rs in groups.values() for r in rs)]
    fig, axes = _figure(4.2 * len(shown), 3.8, len(shown))
    for ax, (key, name) in zip(axes, shown, strict=True):
        for i, (label, runs) in enumerate(groups.items()):
            x, mean, low, high = _band(runs, key)
            ax.plot(x, mean, color=color(i), linewidth=1.8, label=_short(label, 40))
            if len(runs) > 1:
                ax.fill_between(x, low, high, color=color(i), alpha=0.18, linewidth=0)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        if key in ("val_loss", "lr") and (log_loss or _wide(groups, key)):
            ax.set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 4),
        fontsize=8,
        frameon=False,
    )
    return fig


def _wide(groups: Mapping[str, Sequence[History]], key: str, ratio: float = 30.0) -> bool:
    """Whether the positive values of ``key`` span more than ``ratio``: then a log axis reads better."""
    values = np.concatenate([_column(r, key) for runs in groups.values() for r in runs])
    values = values[np.isfinite(values) & (values > 0)]
    return bool(values.size and values.max() > ratio * values.min())


# --- LR range test ----------------------------------------------------------------------------------


def plot_lr_finder(
    lrs: np.ndarray,
    losses: np.ndarray,
    *,
    raw_losses: np.ndarray | None = None,
    suggestions: Mapping[str, float] | None = None,
) -> Figure:
    """Smoothed loss against the (log-scale) learning rate, with the suggested rates marked."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    fig, (ax,) = _figure(7.0, 4.0)
    if raw_losses is not None:
        ax.plot(lrs, raw_losses, color=color(0), alpha=0.25, linewidth=1, label="loss")
    ax.plot(lrs, losses, color=color(0), linewidth=2, label="smoothed loss")
    for i, (name, value) in enumerate((suggestions or {}).items()):
        ax.axvline(
            value, color=color(i + 1), linestyle="--", linewidth=1.3, label=f"{name}: {value:.2e}"
        )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    finite = losses[np.isfinite(losses)]
    if finite.size:  # the diverging tail would squash the interesting part: cut at 1.5x the start
        low, high = float(finite.min()), min(float(finite.max()), 1.5 * float(finite[0]))
        pad = 0.05 * max(high - low, 1e-12)
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(float(lrs[0]), float(lrs[-1]))
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("LR range test", fontsize=11)
    return fig


def plot_range_test(result: LRFinderResult) -> Figure:
    """:func:`plot_lr_finder` of an LR range test's result (suggestions marked)."""
    return plot_lr_finder(
        result.lrs, result.losses, raw_losses=result.raw_losses, suggestions=result.suggestions
    )


def plot_search(
    families: Sequence[Any], budgets: Sequence[int], metric: str, log_x: bool = True
) -> Figure:
    """A search's candidates: score (``metric`` at the end of the rung) against the first free
    parameter, one panel per rung budget, one colour per family; hollow markers for the
    candidates pruned at that rung."""
    fig, axes = _figure(3.6 * len(budgets), 3.2, ncols=len(budgets))
    for ax, budget in zip(axes, budgets, strict=True):
        for i, fam in enumerate(families):
            points = [
                (next(iter(c.params.values())), c.scores[budget], c.outcome == "pruned"
                 and max(c.scores) == budget)
                for c in fam.candidates
                if budget in c.scores and c.params
            ]  # fmt: skip
            points = [p for p in points if isinstance(p[0], (int, float))]
            if not points:
                continue
            points.sort()
            xs = np.array([p[0] for p in points], dtype=float)
            ys = np.array([p[1] for p in points], dtype=float)
            ax.plot(xs, ys, "-", color=color(i), alpha=0.5, linewidth=1)
            kept = np.array([not p[2] for p in points])
            ax.scatter(xs[kept], ys[kept], color=color(i), s=22, label=fam.label, zorder=3)
            ax.scatter(xs[~kept], ys[~kept], facecolors="none", edgecolors=color(i), s=22,
                       zorder=3)  # fmt: skip
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"rung of {budget} epoch{'s' * (budget != 1)}", fontsize=9)
        ax.set_xlabel("peak rate (first free parameter)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(metric, fontsize=8)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7, loc="best")
    return fig


# --- one colour per schedule, across every figure -------------------------------------------------

#: the colour of each kind of schedule, by the base of its label (the same in every experiment)
SCHEDULE_COLORS: dict[str, str] = {
    "constant": "#222222",
    "adam": "#8c564b",
    "adam_default": "#8c564b",
    "step": "#1f77b4",
    "steplr": "#1f77b4",
    "exponential": "#d62728",
    "exponentiallr": "#d62728",
    "cosine": "#2ca02c",
    "warmup_cosine": "#006d2c",
    "linear": "#ff7f0e",
    "plateau": "#9467bd",
    "cyclic": "#e377c2",
    "polynomial": "#bcbd22",
    "time_based": "#17becf",
    "inverse_time": "#0b5563",
}
_GREYS = ("#c7c7c7", "#969696", "#636363", "#252525", "#000000")
#: label suffixes of a variant of a schedule (drawn dashed in its colour): another start rate,
#: another validation split
VARIANT_MARKS = ("@", "_test")


def schedule_style(label: str, others: Sequence[str] = ()) -> tuple[str, str]:
    """``(colour, line style)`` of the schedule ``label``: its kind's colour from
    :data:`SCHEDULE_COLORS` (``constant_<rate>`` in greys, darker for higher rates among the
    constants in ``others``; unknown kinds from the palette by a stable hash), dashed for a
    variant (a label with a suffix of :data:`VARIANT_MARKS`)."""
    base, dashed = label, False
    for mark in VARIANT_MARKS:
        if mark in base:
            base, dashed = base.split(mark)[0], True
    style = "--" if dashed else "-"
    if base in SCHEDULE_COLORS:
        return SCHEDULE_COLORS[base], style
    if base.startswith("constant_"):
        rates = sorted({_rate(x) for x in [base, *others] if x.startswith("constant_")} - {None})
        rate = _rate(base)
        if rate is not None and len(rates) > 1:
            pick = round(rates.index(rate) * (len(_GREYS) - 2) / (len(rates) - 1)) + 1
            return _GREYS[min(pick, len(_GREYS) - 1)], style
        return SCHEDULE_COLORS["constant"], style
    return color(sum(map(ord, base))), style


def _rate(label: str) -> float | None:
    text = label.split("@")[0].removeprefix("constant_").removesuffix("_test")
    try:
        return float(text)
    except ValueError:
        return None


def _seed_matrix(runs: Sequence[History], key: str) -> np.ndarray:
    length = max(len(r) for r in runs)
    data = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        data[i, : len(run)] = _column(run, key)
    return data


def plot_seed_curves(
    groups: Mapping[str, Sequence[History]],
    *,
    metrics: Sequence[tuple[str, str]] = (
        ("val_loss", "validation loss"),
        ("val_acc", "validation accuracy"),
    ),
    title: str | None = None,
    log_loss: bool = False,
) -> Figure:
    """Schedules side by side, one panel per metric: every seed's run as a thin line in the
    schedule's colour (:func:`schedule_style`) and the mean over seeds drawn over them, so that
    the spread, outliers and diverged seeds stay visible (no bands)."""
    if not groups or any(not runs for runs in groups.values()):
        raise ConfigError("plot_seed_curves: groups must map each label to at least one run")
    shown = [(k, n) for k, n in metrics if any(_has(r, k) for rs in groups.values() for r in rs)]
    fig, axes = _figure(4.6 * len(shown), 4.0, len(shown))
    labels = list(groups)
    for ax, (key, name) in zip(axes, shown, strict=True):
        for label, runs in groups.items():
            colour, style = schedule_style(label, labels)
            data = _seed_matrix(runs, key)
            x = np.arange(1, data.shape[1] + 1)
            for row in data:
                ax.plot(x, row, color=colour, linestyle=style, linewidth=0.6, alpha=0.4)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(data, axis=0)
            ax.plot(x, mean, color=colour, linestyle=style, linewidth=1.8,
                    label=f"{_short(label, 40)} ({len(runs)} seeds)")  # fmt: skip
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epochs completed")
        if key.endswith("_loss") and (log_loss or _wide(groups, key)):
            ax.set_yscale("log")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), fontsize=8,
               frameon=False)  # fmt: skip
    if title:
        fig.suptitle(_short(title, 120), fontsize=10)
    return fig


def plot_step_rates(
    panels: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
    *,
    steps_per_epoch: Mapping[str, float],
    title: str | None = None,
) -> Figure:
    """The learning rate of every optimizer step on a *linear* axis against epochs (step /
    ``steps_per_epoch[label]``), one panel per entry of ``panels`` (title -> label -> each seed's
    per-step rates); seeds whose rates differ (reduce-on-plateau) get a thin line each."""
    if not panels or any(not p for p in panels.values()):
        raise ConfigError("plot_step_rates: panels must hold at least one schedule each")
    fig, axes = _figure(max(7.0, 4.6 * len(panels)), 4.2, len(panels))
    legend: dict[str, Any] = {}
    for ax, (name, rates) in zip(axes, panels.items(), strict=True):
        labels = list(rates)
        for label, seeds in rates.items():
            colour, style = schedule_style(label, labels)
            spe = steps_per_epoch[label]
            distinct = [seeds[0]] + [r for r in seeds[1:] if not np.array_equal(r, seeds[0])]
            for i, r in enumerate(distinct):
                r = np.asarray(r, dtype=float)
                if not len(r):
                    continue
                # a step line needs only the steps where the rate changes (and the run's end)
                keep = np.concatenate(([0], np.flatnonzero(np.diff(r) != 0) + 1))
                x = np.append(keep, len(r)) / spe
                y = np.append(r[keep], r[-1])
                ax.plot(x, y, color=colour, linestyle=style, drawstyle="steps-post",
                        linewidth=1.4 if len(distinct) == 1 else 0.7,
                        alpha=1.0 if len(distinct) == 1 else 0.6,
                        label=_short(label, 40) if i == 0 else None)  # fmt: skip
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate (per optimizer step)")
        ax.set_title(name, fontsize=10)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center",
               ncols=min(len(legend), 5), fontsize=8, frameon=False)  # fmt: skip
    if title:
        fig.suptitle(_short(title, 120), fontsize=10)
    return fig


def plot_paired_differences(
    panels: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    title: str | None = None,
) -> Figure:
    """The evidence behind verdicts: one panel per family of comparisons, one row per comparison
    (``name``, per-seed ``values`` of ``a - b``, ``mean``, t interval ``low``/``high``, bootstrap
    interval ``boot_low``/``boot_high``, ``sesoi``, ``verdict``, ``color``): every seed as a point,
    the mean with its t interval (thick) and bootstrap interval (thin, below), 0 and the +-SESOI
    band of "no difference"; infinite values (diverged runs) sit at the panel's edge as arrows."""
    if not panels or any(not rows for rows in panels.values()):
        raise ConfigError("plot_paired_differences: panels must hold at least one comparison")
    heights = [0.9 + 0.42 * len(rows) for rows in panels.values()]
    fig = Figure(figsize=(9.6, sum(heights) + 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights)
    for k, (name, rows) in enumerate(panels.items()):
        ax = fig.add_subplot(grid[k])
        ax.grid(True, axis="x", alpha=0.3, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        finite = [float(v) for r in rows for v in r["values"] if np.isfinite(v)]
        finite += [float(r[key]) for r in rows for key in ("low", "high", "sesoi")
                   if r.get(key) is not None and np.isfinite(r[key])]  # fmt: skip
        finite += [-float(r["sesoi"]) for r in rows if r.get("sesoi")]
        span = (min([*finite, 0.0]), max([*finite, 0.0]))
        pad = 0.06 * max(span[1] - span[0], 1e-9)
        lo, hi = span[0] - pad, span[1] + pad
        for i, r in enumerate(rows):
            y = len(rows) - 1 - i
            colour = r.get("color", color(0))
            sesoi = r.get("sesoi")
            if sesoi:
                ax.fill_between([-sesoi, sesoi], y - 0.4, y + 0.4, color="#999999", alpha=0.15,
                                linewidth=0)  # fmt: skip
            values = np.asarray(r["values"], dtype=float)
            jitter = np.linspace(-0.18, 0.18, max(len(values), 1))
            ok = np.isfinite(values)
            ax.scatter(values[ok], y + 0.12 + jitter[ok] * 0.5, s=12, color=colour, alpha=0.7,
                       linewidths=0, zorder=3)  # fmt: skip
            for v, j in zip(values[~ok], jitter[~ok], strict=True):
                if np.isnan(v):
                    continue
                edge, marker = (hi, ">") if v > 0 else (lo, "<")
                ax.scatter([edge], [y + 0.12 + j * 0.5], s=22, marker=marker, color=colour,
                           zorder=3)  # fmt: skip
            if np.isfinite(r.get("low", np.nan)) and np.isfinite(r.get("high", np.nan)):
                ax.plot([r["low"], r["high"]], [y - 0.12] * 2, color=colour, linewidth=3.0,
                        solid_capstyle="butt")  # fmt: skip
            if np.isfinite(r.get("boot_low", np.nan)) and np.isfinite(r.get("boot_high", np.nan)):
                ax.plot([r["boot_low"], r["boot_high"]], [y - 0.26] * 2, color=colour,
                        linewidth=1.0)  # fmt: skip
            if np.isfinite(r.get("mean", np.nan)):
                ax.scatter([r["mean"]], [y - 0.12], s=40, marker="D", color="white",
                           edgecolors=colour, zorder=4)  # fmt: skip
            ax.text(1.01, y, r.get("verdict", ""), transform=ax.get_yaxis_transform(),
                    fontsize=8, va="center")  # fmt: skip
        ax.axvline(0, color="#444444", linewidth=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks(range(len(rows)), [_short(r["name"], 64) for r in reversed(rows)],
                      fontsize=8)  # fmt: skip
        ax.set_title(_short(name, 110), fontsize=9, loc="left")
    fig.supxlabel("a - b per seed (points); mean with 95% t interval (thick) and bootstrap "
                  "interval (thin); grey: ±SESOI", fontsize=8)  # fmt: skip
    if title:
        fig.suptitle(_short(title, 120), fontsize=10)
    return fig
