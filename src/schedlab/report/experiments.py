"""Text and figures of an experiment's outcome: Markdown (for EXPERIMENTS.md), an HTML page, and
the figures each verdict can be checked against (SVG)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from schedlab.lab.analysis.inference import Comparison, Estimate
from schedlab.lab.experiments.claims import (
    CONFIRMED,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    REFUTED,
    Decision,
    Verdict,
)
from schedlab.lab.experiments.runner import ExperimentOutcome
from schedlab.report import format as fmt
from schedlab.report.page import escape, page, table


def estimate(e: Estimate) -> str:
    """``0.9512 [0.9490, 0.9534]`` (mean and 95% interval), or the mean alone."""
    return fmt.interval(e, fixed=True)


# --- the ranking -------------------------------------------------------------------------------

RANKING_HEAD = ("#", "schedule", "optimizer", "evaluated on", "seeds", "final val_acc [95% CI]",
                "best val_acc [95% CI]", "Δ vs baseline [95% CI]", "p", "flags")  # fmt: skip


def split_of(outcome: ExperimentOutcome, label: str) -> str:
    """``test`` for a schedule of a sweep validated on the official test split, else
    ``validation``."""
    for plan in outcome.plans:
        if any(lb == label for lb, _ in plan.schedules):
            return "test" if plan.config.val_fraction == 0 else "validation"
    return "validation"


def ranking_rows(outcome: ExperimentOutcome) -> list[list[str]]:
    """One row per schedule: rank, label, optimizer, the split it is evaluated on, final and best
    val_acc [95% CI], Δ vs baseline [CI] and p (t-test, uncorrected: the ranking describes, the
    verdicts decide; only against a baseline on the same split), flags."""
    rows = []
    base_split = split_of(outcome, outcome.baseline)
    for i, r in enumerate(outcome.rows, 1):
        vs = r.vs_baseline
        split = split_of(outcome, r.label)
        if vs is None or split != base_split:
            delta = "baseline" if r.label == outcome.baseline else "-"
            delta, p = (delta if vs is None else "(another split)"), "-"
        else:
            delta = fmt.interval(
                Estimate(vs.mean_diff, vs.low, vs.high, vs.n), fixed=True, sign=True
            )
            p = fmt.p_value(vs.p_value)
        n = len(r.seeds)
        flags = [f"diverged {r.diverged}/{n}"] if r.diverged else []
        rows.append([
            str(i), r.label, outcome.results.optimizers.get(r.label, "-"), split, str(n),
            estimate(r.final), estimate(r.best), delta, p, ", ".join(flags) or "-",
        ])  # fmt: skip
    return rows


# --- the verdicts ------------------------------------------------------------------------------

VERDICT_HEAD = ("claim", "reading", "verdict", "effect a - b [95% t; bootstrap]",
                "sign test", "p Holm", "TOST p Holm", "MDE (80%)", "seeds for SESOI")  # fmt: skip
COMPARISON_HEAD = ("claim", "reading", "comparison", "verdict", "effect [95% t; bootstrap]",
                   "claim's side", "p (Holm)", "sign p (Holm)", "TOST p (Holm)", "MDE (80%)",
                   "seeds for SESOI")  # fmt: skip


effect, side, _p = fmt.effect, fmt.side, fmt.p_value


def _tests(c: Comparison, sign: int) -> list[str]:
    """Sign test, Holm-adjusted t and TOST p-values, MDE and seeds needed of ``c``."""
    mde, need = fmt.power(c)
    return [f"{side(c, sign)} (p {fmt.p_value(c.p_sign_adj)})", fmt.p_value(c.p_t_adj),
            fmt.p_value(c.p_tost_adj), mde,
            need]  # fmt: skip


def decisive(d: Decision, verdicts: Sequence[str]) -> int:
    """Index of the comparison that decides ``d``: one that refutes (largest effect against), else
    one left open (smallest effect for), else one that is level, else the weakest confirmed."""
    order = {REFUTED: 0, INCONCLUSIVE: 1, NO_DIFFERENCE: 2, CONFIRMED: 3}
    if d.verdict == NO_DIFFERENCE:
        order[NO_DIFFERENCE] = -1
    return min(range(len(verdicts)), key=lambda i: (
        order[verdicts[i]], d.signs[i] * d.comparisons[i].mean_diff
        if math.isfinite(d.comparisons[i].mean_diff) else 0.0,
    ))  # fmt: skip


def _reading(d: Decision, epochs: int) -> str:
    return d.reading.describe(epochs)


def epochs_of(outcome: ExperimentOutcome) -> int:
    return outcome.variant.epochs


def verdict_rows(outcome: ExperimentOutcome) -> list[list[str]]:
    """One row per claim and reading: the claim, the reading, the verdict, and the decisive
    comparison's effect, sign test, Holm-adjusted p-values and power."""
    rows = []
    for v in outcome.verdicts:
        if not v.decisions:
            rows.append([v.claim, "-", v.verdict.upper(), v.evidence, "", "", "", "", ""])
            continue
        for k, d in enumerate(v.decisions):
            each = d.each
            i = decisive(d, each)
            c = d.comparisons[i]
            label = f"{d.verdict.upper()}" + (f" ({d.summary})" if d.summary else "")
            shown = d.names[i] if len(d.comparisons) > 1 else ""
            rows.append([v.claim if k == 0 else "", _reading(d, epochs_of(outcome)), label,
                         (f"{shown}: " if shown else "") + effect(c),
                         *_tests(c, d.signs[i])])  # fmt: skip
    return rows


def comparison_rows(outcome: ExperimentOutcome) -> list[list[str]]:
    """Every comparison of every claim and reading (the full evidence)."""
    rows = []
    for v in outcome.verdicts:
        for d in v.decisions:
            each = d.each
            for name, sign, c, verdict in zip(d.names, d.signs, d.comparisons, each, strict=True):
                mde, need = fmt.power(c)
                rows.append([v.claim, _reading(d, epochs_of(outcome)), name, verdict, effect(c),
                             side(c, sign), _p(c.p_t_adj) + f" ({_p(c.p_t)})",
                             _p(c.p_sign_adj), _p(c.p_tost_adj), mde, need])  # fmt: skip
    return rows


def markdown_table(head: Sequence[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def schedules_table(outcome: ExperimentOutcome) -> list[list[str]]:
    res = outcome.results
    return [[r.label, res.sweeps[r.label], f"`{_cut(r.schedule)}`"] for r in outcome.rows]


def _cut(text: str, width: int = 120) -> str:
    return text if len(text) < width else text[: width - 3] + "..."


def design_lines(outcome: ExperimentOutcome) -> list[str]:
    x, v = outcome.experiment, outcome.variant
    d = x.design
    kind = {"design": "the pre-declared design", "pilot": "a PILOT (exploratory; not the "
            "declared design, no verdict of it counts)", "quick": "the QUICK variant (a smoke "
            "test; its verdicts mean nothing)", "custom": "a CUSTOM variant (not the declared "
            "design)"}[v.label]  # fmt: skip
    seeds = f"{v.seeds[0]}-{v.seeds[-1]}" if v.seeds == tuple(range(v.seeds[0], v.seeds[-1] + 1)) \
        else ", ".join(map(str, v.seeds))  # fmt: skip
    out = [
        f"Run: {kind}; {v.epochs} epochs, seeds {seeds}; sweeps "
        + ", ".join(f"`{p.name}`" for p in outcome.plans)
        + (f"; chosen: {_context(outcome.context)}" if outcome.context else "")
        + "."
    ]
    out.append(
        f"Decisions at alpha = {d.alpha:g} after Holm's correction within each claim family; "
        f"power figures at {d.power:.0%}"
        + (
            f"; chaotic families (a verdict also needs the sign test): "
            f"{', '.join(d.chaotic_families)}"
            if d.chaotic_families
            else ""
        )
        + "."
    )
    return out


def _context(context: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in context.items())


def markdown(outcome: ExperimentOutcome, figures: Mapping[str, str] | None = None) -> str:
    """The outcome as a Markdown section: set-up beside the source's, design, verdicts with their
    evidence, untested claims, figures, ranking, schedules."""
    x = outcome.experiment
    parts = [f"## {x.name}: {x.title}", f"Source: {x.source}"]
    if x.setup:
        parts.append(markdown_table(("", "source", "reproduction"), [list(r) for r in x.setup]))
    parts += design_lines(outcome)
    if x.design.notes:
        parts.append("Design (declared before the runs):\n\n"
                     + "\n".join(f"- {n}" for n in x.design.notes))  # fmt: skip
    parts += ["Verdicts (each claim under each reading; the comparison shown is the one that "
              "decides it):", markdown_table(VERDICT_HEAD, verdict_rows(outcome))]  # fmt: skip
    quotes = {v.quote: v.claim for v in outcome.verdicts if v.quote}
    if quotes:
        parts.append("The source's words behind the claims (as the project's issues record "
                     "them):\n\n" + "\n".join(f"- “{q}”" for q in quotes))  # fmt: skip
    if x.untested:
        parts.append("Not tested:\n\n" + "\n".join(f"- **{c}**: {w}" for c, w in x.untested))
    if figures:
        parts += [f"![{html.escape(alt)}]({path})" for alt, path in figures.items()]
    parts += ["<details><summary>Every comparison</summary>\n",
              markdown_table(COMPARISON_HEAD, comparison_rows(outcome)), "</details>"]  # fmt: skip
    parts += [f"Ranking by final validation accuracy (baseline `{outcome.baseline}`; Δ paired by "
              "seed, uncorrected):", markdown_table(RANKING_HEAD, ranking_rows(outcome))]  # fmt: skip
    if x.differences:
        parts.append(
            "Differences from the source:\n\n" + "\n".join(f"- {d}" for d in x.differences)
        )
    parts.append("Schedules (canonical specs):\n\n"
                 + markdown_table(("label", "sweep", "spec"), schedules_table(outcome)))  # fmt: skip
    return "\n\n".join(parts) + "\n"


def _html_table(head: Sequence[str], rows: list[list[str]], verdict_col: int | None = None) -> str:
    cells = [[escape(c) for c in row] for row in rows]
    classes = None
    if verdict_col is not None:
        classes = {verdict_col: [r[verdict_col].split(" (")[0].lower().replace(" ", "-")
                                 for r in rows]}  # fmt: skip
    return table([escape(h) for h in head], cells, cell_class=classes)


def html_page(
    outcome: ExperimentOutcome, images: Mapping[str, str], reports: Mapping[str, str]
) -> str:
    """A self-contained HTML page: verdicts, every comparison, ranking, figures (``alt -> data
    URI``) and links to each sweep's full report (``sweep -> relative path``)."""
    x = outcome.experiment
    esc = escape
    body = [
        f"<h1>{esc(x.name)}: {esc(x.title)}</h1>",
        f"<p>{esc(x.source)}</p>",
        *[f"<p>{esc(line)}</p>" for line in design_lines(outcome)],
        "<h2>Verdicts</h2>",
        _html_table(VERDICT_HEAD, verdict_rows(outcome), verdict_col=2),
        "<h2>Not tested</h2><ul>",
        *[f"<li><b>{esc(c)}</b>: {esc(w)}</li>" for c, w in x.untested],
        "</ul><h2>Figures</h2>",
        *[f'<img alt="{esc(alt)}" src="{uri}">' for alt, uri in images.items()],
        "<h2>Every comparison</h2>",
        _html_table(COMPARISON_HEAD, comparison_rows(outcome), verdict_col=3),
        f"<h2>Ranking (baseline {esc(outcome.baseline)})</h2>",
        _html_table(RANKING_HEAD, ranking_rows(outcome)),
        "<h2>Sweep reports</h2><ul>",
        *[f'<li><a href="{esc(path)}">{esc(name)}</a></li>' for name, path in reports.items()],
        "</ul><h2>Differences from the source</h2><ul>",
        *[f"<li>{esc(d)}</li>" for d in x.differences],
        "</ul>",
    ]
    return page(x.name, "\n".join(body))


# --- figures -----------------------------------------------------------------------------------


def _groups(outcome: ExperimentOutcome) -> dict[str, list[str]]:
    """Labels by the sweep that trained them (one panel set each): one-schedule sweeps join the
    first group, and every comparison's other side joins the group of its first side."""
    res = outcome.results
    keys = {p.name: p.name.split("/")[1] for p in outcome.plans}
    groups: dict[str, list[str]] = {}
    for plan in outcome.plans:
        labels = [lb for lb, _ in plan.schedules if lb in res.curves]
        if not labels:
            continue
        key = keys[plan.name]
        if len(labels) == 1 and groups:
            key = next(iter(groups))
        if plan.config.val_fraction == 0:
            key += " (validated on the test split)" if len(labels) > 1 else ""
        groups.setdefault(key, []).extend(lb for lb in labels if lb not in groups.get(key, []))
    for v in outcome.verdicts:
        for d in v.decisions:
            for c in d.comparisons:
                for labels in groups.values():
                    if c.a in labels and c.b in res.curves and c.b not in labels:
                        labels.append(c.b)
    return groups


def _steps_per_epoch(outcome: ExperimentOutcome, label: str) -> float:
    res = outcome.results
    seeds = res.rates.get(label, {})
    epochs = len(next(iter(res.curves[label].values())))
    first = next(iter(seeds.values()), np.array([]))
    return max(1.0, len(first) / max(epochs, 1))


def _panel_rows(outcome: ExperimentOutcome, v: Verdict, d: Decision) -> list[dict[str, Any]]:
    from schedlab.report.plots import schedule_style

    each = d.each
    rows = []
    for name, c, verdict in zip(d.names, d.comparisons, each, strict=True):
        rows.append({
            "name": name, "values": c.diffs, "mean": c.mean_diff, "low": c.low, "high": c.high,
            "boot_low": c.boot_low, "boot_high": c.boot_high, "sesoi": c.sesoi,
            "verdict": verdict, "color": schedule_style(c.a)[0],
        })  # fmt: skip
    return rows


def figures(outcome: ExperimentOutcome) -> dict[str, tuple[str, Figure]]:
    """The experiment's figures, ``key -> (alt text, figure)``: ``curves-<group>`` (every seed's
    validation loss and accuracy), ``rates`` (every schedule's per-step rate, linear axis) and
    ``differences-<n>`` (per claim family and reading: the per-seed paired differences with
    their intervals, the evidence of each verdict)."""
    from schedlab.report.plots import plot_paired_differences, plot_seed_curves, plot_step_rates

    x, v, res = outcome.experiment, outcome.variant, outcome.results
    groups = _groups(outcome)
    out: dict[str, tuple[str, Figure]] = {}
    for key, labels in groups.items():
        slug = key.split(" ")[0]
        alt = f"{x.name}: validation loss and accuracy of every seed, {key}"
        runs = {lb: list(res.curves[lb].values()) for lb in labels}
        fig = plot_seed_curves(runs, title=f"{alt} ({v.epochs} epochs; thin: one seed each, "
                                           f"thick: their mean)")  # fmt: skip
        out[f"curves-{slug}"] = (alt, fig)
    if res.rates:
        panels = {key: {lb: list(res.rates[lb].values()) for lb in labels if res.rates.get(lb)}
                  for key, labels in groups.items()}  # fmt: skip
        panels = {k: p for k, p in panels.items() if p}
        if panels:
            spe = {lb: _steps_per_epoch(outcome, lb) for p in panels.values() for lb in p}
            alt = f"{x.name}: the learning rate of every optimizer step (linear axis)"
            out["rates"] = (alt, plot_step_rates(panels, steps_per_epoch=spe, title=alt))
    by_reading: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for verdict in outcome.verdicts:
        for d in verdict.decisions:
            title = f"{verdict.family or verdict.claim} — {d.reading.describe(v.epochs)}"
            panel = by_reading.setdefault(d.reading.who, {}).setdefault(title, [])
            panel.extend(_panel_rows(outcome, verdict, d))
    for who, panels_ in by_reading.items():
        alt = (f"{x.name}: paired differences per seed and their intervals, the {who}'s "
               "readings (one panel per claim family)")  # fmt: skip
        out[f"differences-{who}"] = (alt, plot_paired_differences(panels_, title=alt))
    return out
