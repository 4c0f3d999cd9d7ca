"""The sweep report: ONE self-contained HTML file (inline CSS, images as base64 PNG, no script,
no external font or CDN), readable offline and safe to mail around.

Sections: recommendation, configuration, ranking table (mean +- 95% CI over seeds, paired
comparison with the baseline), comparison plots, warnings (diverged, overfitting, pitfall checks
with a fix spec), and one detail section per schedule (curves with the rate, per-seed table).
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from schedlab import __version__
from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import Ranking, rank
from schedlab.lab.runs.files import check_output_folder, output_folder, write_atomic
from schedlab.lab.runs.rows import EpochRow, RunRow
from schedlab.lab.runs.store import DONE, RunStore
from schedlab.report import format as fmt
from schedlab.report import plots
from schedlab.report.page import escape, page, table
from schedlab.report.summary import (
    METRIC_NAMES,
    ReportWarning,
    pitfalls,
    recommendation,
    run_context,
    steps_per_epoch,
    warnings_for,
)

_e = escape


def _md(text: str) -> str:
    """Escape, then render the two inline marks the summary uses: **bold** and `code`."""
    out = _e(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(plots.figure_bytes(fig, "png")).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _num(x: float | None, digits: int = 4) -> str:
    return fmt.number(x, digits)


def _ci(est: Any) -> str:
    """``mean [low, high]`` with the interval in the muted style."""
    text = fmt.interval(est)
    mean, _, rest = text.partition(" ")
    return f"{mean} <span class=meta>{rest}</span>" if rest else text


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    return table(head, rows, numeric)


def _ranking_table(ranking: Ranking, colors: Mapping[str, str]) -> str:
    metric = METRIC_NAMES.get(ranking.metric, ranking.metric)
    head = [
        "#",
        "schedule",
        f"final {metric} [95% CI]",
        f"best {metric} [95% CI]",
        "vs baseline [95% CI]",
        "p",
        "epochs to target",
        "flags",
    ]
    rows = []
    for i, r in enumerate(ranking.rows, 1):
        vs = r.vs_baseline
        diff = "baseline" if r.label == ranking.baseline else fmt.MISSING
        if vs is not None and vs.n:
            diff = fmt.difference(vs.mean_diff)
            if vs.n >= 2 and not math.isnan(vs.low):
                low, high = fmt.difference(vs.low), fmt.difference(vs.high)
                diff += f" <span class=meta>[{low}, {high}]</span>"
        p = fmt.p_value(vs.p_value) if vs is not None else fmt.MISSING
        ett = (
            fmt.MISSING
            if r.epochs_to_target is None
            else (f"{_num(r.epochs_to_target.mean, 3)} ({r.reached}/{len(r.seeds)})")
        )
        swatch = f'<span class="swatch" style="background:{colors[r.label]}"></span>'
        flags = ", ".join(r.flags) or '<span class="ok">none</span>'
        rows.append(
            [
                str(i),
                f"{swatch}<strong>{_e(r.label)}</strong><br><code>{_e(r.schedule)}</code>",
                _ci(r.final),
                _ci(r.best),
                diff,
                p,
                ett,
                _e(flags) if r.flags else flags,
            ]
        )
    return _table(head, rows, {0, 2, 3, 4, 5, 6})


def _decisions(ranking: Ranking) -> list[str]:
    """The section deciding each schedule against the baseline (``rank(..., tests=True)``)."""
    rows = [r for r in ranking.rows if r.tests is not None]
    sign = 1 if ranking.higher_is_better else -1
    sesoi = "none given" if ranking.sesoi is None else _num(ranking.sesoi)
    cells = [[_e(r.label), *map(_e, fmt.decision_cells(r.tests, r.verdict or "", sign))]
             for r in rows if r.tests is not None]  # fmt: skip
    classes = [(r.verdict or "").replace(" ", "-") for r in rows]
    return [
        "<h2>Decisions</h2>",
        f'<p class="meta">Each schedule against the baseline {_e(ranking.baseline or "")}, '
        "paired by seed: better or worse when the paired t-test is significant at 5% after "
        "Holm's correction over these comparisons; no difference when the equivalence test "
        f"(TOST) against the smallest effect of interest ({_e(sesoi)}) is; else inconclusive. "
        "MDE: the smallest difference these seeds detect with 80% power.</p>",
        table(["schedule", *fmt.DECISION_HEAD], cells, {2, 3, 4, 5, 6, 7},
              cell_class={1: classes}),
    ]  # fmt: skip


def _config_table(sweep: Mapping[str, Any], store_path: Path) -> str:
    cfg = dict(sweep.config.get("config", {}))
    seeds = sweep.config.get("seeds", [])
    rows = [[_e(k), f"<code>{_e(v)}</code>"] for k, v in cfg.items()]
    rows.append(["seeds", _e(", ".join(map(str, seeds)))])
    rows.append(["store", f"<code>{_e(store_path)}</code>"])
    rows.append(["sweep created", _e(sweep.created)])
    return _table(["setting", "value"], rows, set())


def _warnings_html(warnings: Sequence[ReportWarning]) -> str:
    if not warnings:
        return '<p class="ok">No warnings: no run diverged or overfitted, no pitfall found.</p>'
    out = []
    for w in warnings:
        bad = " bad" if w.id == "diverged" else ""
        fix = f"<br>Suggested spec: <code>{_e(w.fix)}</code>" if w.fix else ""
        out.append(
            f'<div class="warn{bad}"><span class="id">{_e(w.id)}</span><strong>{_e(w.label)}</strong>'
            f" &ndash; {_e(w.message)}{fix}</div>"
        )
    return "\n".join(out)


def _seed_table(runs: Sequence[RunRow], histories: Mapping[int, list[EpochRow]]) -> str:
    rows = []
    for r in runs:
        h = histories.get(r.id)
        last = h[-1] if h else None
        rows.append(
            [
                str(r.seed),
                _e(r.status),
                f"{r.epochs_done}/{r.epochs}",
                _num(last and last.val_loss),
                _num(last and last.val_acc),
                _num(last and last.train_loss),
                f"{r.seconds:.1f}",
            ]
        )
    head = [
        "seed",
        "status",
        "epochs",
        "final val loss",
        "final val acc",
        "final train loss",
        "seconds",
    ]
    return _table(head, rows, {0, 2, 3, 4, 5, 6})


def _safe_name(sweep: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", sweep).strip("._") or "sweep"


def write_report(
    store: RunStore | str | os.PathLike,
    sweep: str,
    out_dir: str | os.PathLike,
    *,
    metric: str = "val_acc",
    baseline: str | None = None,
    tests: bool = False,
    sesoi: float | None = None,
) -> Path:
    """Write the report of ``sweep`` to ``out_dir/<sweep>.html`` and return its path.

    ``store`` is a :class:`RunStore` or the path of one; ``metric``, ``baseline``, ``tests`` and
    ``sesoi`` (a table of decisions against the baseline) are passed to
    :func:`schedlab.lab.analysis.stats.rank`.  Raises ``ValueError`` for an unknown sweep (listing the
    known ones).  The file is replaced atomically (a temporary file, then a rename): a reader never
    sees half a report, and a failed write leaves the previous one.
    """
    if isinstance(store, (str, os.PathLike)):
        if not Path(store).is_file():
            raise ConfigError(
                f"report: store must be an existing run store file; got {str(store)!r}"
            )
        with RunStore(store) as opened:
            return write_report(opened, sweep, out_dir, metric=metric, baseline=baseline,
                                tests=tests, sesoi=sesoi)  # fmt: skip
    check_output_folder(out_dir, "out")  # before the work, not after
    page = render_report(store, sweep, metric=metric, baseline=baseline, tests=tests, sesoi=sesoi)
    out = output_folder(out_dir, "out")
    return write_atomic(out / f"{_safe_name(sweep)}.html", page, "out")


def render_report(
    store: RunStore,
    sweep: str,
    *,
    metric: str = "val_acc",
    baseline: str | None = None,
    tests: bool = False,
    sesoi: float | None = None,
) -> str:
    """The report of ``sweep`` as an HTML string (see :func:`write_report`)."""
    info = store.sweep(sweep)
    ranking = rank(store, sweep, metric=metric, baseline=baseline, tests=tests, sesoi=sesoi)
    runs = [r for r in store.runs(sweep) if r.status in DONE]
    histories = {r.id: store.epochs(r.id) for r in runs}
    by_label: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        if histories[r.id]:
            by_label.setdefault(r.label, []).append(r)
    colors = {row.label: plots.color(i) for i, row in enumerate(ranking.rows)}

    config = info.config.get("config", {})
    findings: dict[str, list] = {}
    warnings: list[ReportWarning] = []
    first_lrs: dict[str, Any] = {}
    for row in ranking.rows:
        first = by_label[row.label][0]
        first_lrs[row.label] = store.step_lrs(first.id)
        spe = steps_per_epoch(first, len(first_lrs[row.label]))
        findings[row.label] = pitfalls(row.schedule, run_context(config, spe)) if config else []
        warnings.extend(warnings_for(row, findings[row.label]))

    groups = {row.label: [histories[r.id] for r in by_label[row.label]] for row in ranking.rows}
    parts = [
        f"<h1>schedlab report: {_e(sweep)}</h1>",
        f'<p class="meta">{_e(config.get("dataset", ""))} · {_e(config.get("model", ""))} · '
        f"{_e(config.get('optimizer', ''))} · {len(ranking.rows)} schedules · "
        f"{len(runs)} finished runs · generated "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by schedlab {__version__}</p>",
        "<h2>Recommendation</h2>",
        '<div class="rec">'
        + "".join(f"<p>{_md(s)}</p>" for s in recommendation(ranking, findings))
        + "</div>",
    ]
    if ranking.incomplete:
        parts.append(
            f'<p class="warn">{ranking.incomplete} run(s) of this sweep are not finished and are '
            "left out; resume the sweep to include them.</p>"
        )
    parts += [
        "<h2>Ranking</h2>",
        f'<p class="meta">By mean final {_e(METRIC_NAMES.get(ranking.metric, ranking.metric))} '
        f"over seeds, 95% Student-t intervals; paired differences against the baseline "
        f"{_e(ranking.baseline or '(none)')}; target {_num(ranking.target)} "
        f"({_e(ranking.target_source)}).</p>",
        _ranking_table(ranking, colors),
    ]
    if ranking.tests:
        parts += _decisions(ranking)
    if groups:
        parts += [
            "<h2>Comparison</h2>",
            '<p class="meta">Mean over seeds, band = ± one standard deviation.</p>',
            _img(
                plots.plot_comparison(groups),
                "comparison of validation loss, validation "
                "accuracy and learning rate across schedules",
            ),
        ]
    parts += [
        "<h2>Warnings</h2>",
        _warnings_html(warnings),
        "<h2>Configuration</h2>",
        _config_table(info, store.path),
        "<h2>Schedules in detail</h2>",
    ]
    for row in ranking.rows:
        members = by_label[row.label]
        parts += [
            f'<h3 id="s-{_e(_safe_name(row.label))}"><span class="swatch" '
            f'style="background:{colors[row.label]}"></span>{_e(row.label)}</h3>',
            f"<p><code>{_e(row.schedule)}</code></p>",
            _img(
                plots.plot_run(groups[row.label], step_lrs=first_lrs[row.label]),
                f"training curves of {row.label}",
            ),
            _seed_table(members, histories),
        ]
    return page(f"schedlab report: {sweep}", "\n".join(parts))
