"""Rich tables for the lab commands: the ranking of a sweep and a list of stored runs."""

from __future__ import annotations

import math

from rich.table import Table

from schedlab.lab.analysis.stats import Estimate, Ranking
from schedlab.lab.runs.rows import EpochRow, RunRow
from schedlab.report import format as fmt


def _num(x: float, digits: int = 4, sign: bool = False) -> str:
    return fmt.number(x, digits, fixed=True, sign=sign)


def _estimate(e: Estimate, digits: int = 4) -> str:
    """``mean ± half-width`` of the CI, or the mean alone without a CI."""
    return fmt.interval(e, digits, fixed=True, plus_minus=True)


def ranking_table(ranking: Ranking) -> Table:
    """The ranking as a table: mean ± 95% CI half-width of the final and best metric over seeds,
    the paired difference vs the baseline with its CI and p-value, epochs to target, flags."""
    m = ranking.metric
    d = fmt.decimals_for(r.final.mean for r in ranking.rows)
    target = "-" if ranking.target is None else _num(ranking.target, d)
    table = Table(
        title=f"sweep {ranking.sweep}: {m} ({'higher' if ranking.higher_is_better else 'lower'} "
        "is better), mean ± 95% CI over seeds",
        caption=f"Δ: paired by seed vs baseline {ranking.baseline or '(none)'}; "
        f"epochs to target {target} ({ranking.target_source})"
        + (f"; {ranking.incomplete} run(s) not finished" if ranking.incomplete else ""),
    )
    for name, justify in [
        ("#", "right"), ("schedule", "left"), ("seeds", "right"), (f"final {m}", "right"),
        (f"best {m}", "right"), ("Δ [95% CI]", "right"),
        ("p", "right"), ("epochs→target", "right"), ("flags", "left"),
    ]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, row in enumerate(ranking.rows, 1):
        vs = row.vs_baseline
        if vs is None:
            delta, p = ("baseline" if row.label == ranking.baseline else "-"), "-"
        else:
            ci = (
                ""
                if math.isnan(vs.low)
                else f" [{_num(vs.low, d, True)}, {_num(vs.high, d, True)}]"
            )
            delta, p = f"{_num(vs.mean_diff, d, True)}{ci}", fmt.p_value(vs.p_value)
        ett = "-"
        if row.epochs_to_target is not None:
            ett = f"{_estimate(row.epochs_to_target, 1)} ({row.reached}/{len(row.seeds)})"
        elif ranking.target is not None:
            ett = f"never (0/{len(row.seeds)})"
        table.add_row(
            str(i), row.label, str(len(row.seeds)), _estimate(row.final, d), _estimate(row.best, d),
            delta, p, ett, ", ".join(row.flags) or "-",
        )  # fmt: skip
    return table


def decision_table(ranking: Ranking) -> Table:
    """Each schedule decided against the baseline (``rank(..., tests=True)``)."""
    sesoi = "none given" if ranking.sesoi is None else _num(ranking.sesoi)
    table = Table(
        title=f"decisions vs baseline {ranking.baseline}: paired by seed, Holm-corrected",
        caption=f"no difference: TOST within the SESOI ({sesoi}); MDE: detectable with 80% power",
    )
    table.add_column("schedule")
    for name in fmt.DECISION_HEAD:
        table.add_column(name, justify="left" if name == "verdict" else "right")
    sign = 1 if ranking.higher_is_better else -1
    for row in ranking.rows:
        if row.tests is not None:
            table.add_row(row.label, *fmt.decision_cells(row.tests, row.verdict or "", sign))
    return table


RUN_COLUMNS: tuple[str, ...] = (
    "id", "sweep", "label", "seed", "dataset", "model", "optimizer", "status", "epochs_done",
)  # fmt: skip


def runs_table(runs: list[RunRow], last: dict[int, EpochRow | None]) -> Table:
    """Stored runs with their last epoch's validation metrics (``last``: run id -> epoch row)."""
    table = Table(title=f"{len(runs)} run(s)")
    for col in (*RUN_COLUMNS, "val_loss", "val_acc", "seconds"):
        table.add_column(col.replace("_", " "))
    for run in runs:
        epoch = last.get(run.id)
        cells = [str(getattr(run, c)) for c in RUN_COLUMNS]
        cells[RUN_COLUMNS.index("epochs_done")] = f"{run.epochs_done}/{run.epochs}"
        val_acc = None if epoch is None else epoch.val_acc
        cells += [
            "-" if epoch is None else _num(epoch.val_loss),
            "-" if val_acc is None else _num(val_acc),
            f"{run.seconds:.1f}",
        ]
        table.add_row(*cells)
    return table
