"""Text forms of an experiment's outcome: Markdown tables (for EXPERIMENTS.md) and an HTML page."""

from __future__ import annotations

import html
from collections.abc import Mapping

from schedlab.lab.analysis.stats import Estimate
from schedlab.lab.experiments.runner import ExperimentOutcome
from schedlab.report import format as fmt
from schedlab.report.page import escape, page, table


def estimate(e: Estimate) -> str:
    """``0.9512 [0.9490, 0.9534]`` (mean and 95% interval), or the mean alone."""
    return fmt.interval(e, fixed=True)


def ranking_rows(outcome: ExperimentOutcome) -> list[list[str]]:
    """One row per schedule: rank, label, optimizer, final and best val_acc [95% CI], Δ vs
    baseline [CI], p, flags."""
    rows = []
    for i, r in enumerate(outcome.rows, 1):
        vs = r.vs_baseline
        if vs is None:
            delta, p = ("baseline" if r.label == outcome.baseline else "-"), "-"
        else:
            delta = fmt.interval(
                Estimate(vs.mean_diff, vs.low, vs.high, vs.n), fixed=True, sign=True
            )
            p = fmt.p_value(vs.p_value)
        flags = [f"diverged {r.diverged}/{r.seeds}"] if r.diverged else []
        flags += [f"overfitting {r.overfitting}/{r.seeds}"] if r.overfitting else []
        rows.append([
            str(i), r.label, r.optimizer, str(r.seeds), estimate(r.final), estimate(r.best), delta,
            p, ", ".join(flags) or "-",
        ])  # fmt: skip
    return rows


RANKING_HEAD = ("#", "schedule", "optimizer", "seeds", "final val_acc [95% CI]",
                "best val_acc [95% CI]", "Δ vs baseline [95% CI]", "p", "flags")  # fmt: skip
VERDICT_HEAD = ("claim", "verdict", "numbers that decide it")


def verdict_rows(outcome: ExperimentOutcome) -> list[list[str]]:
    return [[v.claim, v.verdict.upper(), v.evidence] for v in outcome.verdicts]


def markdown_table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def schedules_table(outcome: ExperimentOutcome) -> list[list[str]]:
    return [[r.label, r.sweep, f"`{r.schedule if len(r.schedule) < 120 else r.schedule[:117] + '...'}`"]
            for r in outcome.rows]  # fmt: skip


def markdown(outcome: ExperimentOutcome, figures: Mapping[str, str] | None = None) -> str:
    """The outcome as a Markdown section: set-up, ranking, verdicts, differences, figures."""
    x, v = outcome.experiment, outcome.variant
    size = "all" if v.train_size is None else f"{v.train_size:,}"
    parts = [
        f"## {x.name}: {x.title}",
        f"Source: {x.source}",
        f"Run here ({v.label} variant): {v.epochs} epochs, train_size {size} (20% of it held out "
        f"for validation), seeds {', '.join(map(str, v.seeds))}; sweeps "
        + ", ".join(f"`{p.name}`" for p in outcome.plans)
        + (f"; chosen: {outcome.context}" if outcome.context else "")
        + ".",
        f"Ranking by final validation accuracy (baseline `{outcome.baseline}`; Δ paired by seed):",
        markdown_table(RANKING_HEAD, ranking_rows(outcome)),
        "Verdicts:",
        markdown_table(VERDICT_HEAD, verdict_rows(outcome)),
    ]
    if figures:
        parts += [f"![{html.escape(alt)}]({path})" for alt, path in figures.items()]
    if x.differences:
        parts.append(
            "Differences from the source:\n\n" + "\n".join(f"- {d}" for d in x.differences)
        )
    parts.append("Schedules (canonical specs):\n\n"
                 + markdown_table(("label", "sweep", "spec"), schedules_table(outcome)))  # fmt: skip
    return "\n\n".join(parts) + "\n"


def _html_table(
    head: tuple[str, ...], rows: list[list[str]], verdict_col: int | None = None
) -> str:
    cells = [[escape(c) for c in row] for row in rows]
    classes = None if verdict_col is None else {verdict_col: [r[verdict_col].lower() for r in rows]}
    return table([escape(h) for h in head], cells, cell_class=classes)


def html_page(
    outcome: ExperimentOutcome, images: Mapping[str, str], reports: Mapping[str, str]
) -> str:
    """A self-contained HTML page: verdicts, ranking, figures (``alt -> data URI``) and links to
    each sweep's full report (``sweep -> relative path``)."""
    x, v = outcome.experiment, outcome.variant
    esc = escape
    body = [
        f"<h1>{esc(x.name)}: {esc(x.title)}</h1>",
        f"<p>{esc(x.source)}</p>",
        f"<p>Variant {esc(v.label)}: {v.epochs} epochs, train_size {v.train_size}, seeds "
        f"{esc(', '.join(map(str, v.seeds)))}. Chosen: {esc(str(outcome.context) if outcome.context else '-')}</p>",
        "<h2>Verdicts</h2>",
        _html_table(VERDICT_HEAD, verdict_rows(outcome), verdict_col=1),
        f"<h2>Ranking (baseline {esc(outcome.baseline)})</h2>",
        _html_table(RANKING_HEAD, ranking_rows(outcome)),
        "<h2>Figures</h2>",
        *[f'<img alt="{esc(alt)}" src="{uri}">' for alt, uri in images.items()],
        "<h2>Sweep reports</h2><ul>",
        *[f'<li><a href="{esc(path)}">{esc(name)}</a></li>' for name, path in reports.items()],
        "</ul><h2>Differences from the source</h2><ul>",
        *[f"<li>{esc(d)}</li>" for d in x.differences],
        "</ul>",
    ]
    return page(x.name, "\n".join(body))
