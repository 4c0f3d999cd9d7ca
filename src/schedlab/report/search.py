"""The search report: ONE self-contained HTML page (inline CSS, images as base64 PNG) beside the
finalists' comparison report.

Sections: the recommendation (winner, tuned parameters, spec, what the search cost), the code to
use it (PyTorch, Hugging Face, Lightning, Keras, optax), the best member of each family with its
95% interval, the candidates' scores at every rung (a figure and a table per family), the rules
(equal footing, forks, pruner), and a link to the comparison report of the finalists.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from schedlab import __version__
from schedlab.report import format as fmt
from schedlab.report import plots
from schedlab.report.page import escape, page, table

_e = escape


def _num(x: float | None, digits: int = 4) -> str:
    return fmt.number(x, digits)


def _params(params: Any) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(plots.figure_bytes(fig, "png")).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "search"


def _budget_table(result: Any) -> str:
    budgets = result.by_budget()
    head = ["budget (epochs)", "1st", "2nd", "3rd"]
    body = []
    for budget, rows in budgets.items():
        cells = [
            f"{_e(fam)} <span class=meta>{_e(_params(p))}</span>: {_num(v)}"
            for fam, p, v in rows[:3]
        ]
        body.append([str(budget), *cells, *[""] * (3 - len(cells))])
    return table(head, body, {0})


def render_search_report(result: Any, compare_page: Path | None = None) -> str:
    """The search report of ``result`` (a :class:`~schedlab.lab.searches.search.SearchResult`)."""
    cfg = result.settings.get("config", {})
    ranking = result.ranking
    rows = {r.label: r for r in ranking}
    win = result.winner
    share = result.member_epochs / max(result.full_member_epochs, 1)
    parts = [
        f"<h1>schedlab search: {_e(result.name)}</h1>",
        f'<p class="meta">{_e(cfg.get("dataset", ""))} · {_e(cfg.get("model", ""))} · '
        f"{_e(cfg.get('optimizer', ''))} · {len(result.families)} families · rungs of "
        f"{_e(', '.join(map(str, result.budgets)))} epochs · {len(result.seeds)} seeds at the end "
        f"· generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by schedlab "
        f"{__version__}</p>",
        "<h2>Recommendation</h2>",
    ]
    if win is None:
        parts.append(
            '<p class="warn">No finalist finished: nothing to recommend yet (resume the search).</p>'
        )
    else:
        best = rows[win.label]
        parts.append(
            '<div class="rec">'
            f"<p><strong>{_e(win.family)}</strong> with <strong>{_e(_params(win.params))}</strong>: "
            f"mean final {_e(result.metric)} {_num(best.final.mean)} "
            f"<span class=meta>[{_num(best.final.low)}, {_num(best.final.high)}] over "
            f"{best.final.n} seeds</span>.</p>"
            f"<p>Spec ({_e(win.unit)}s, {win.epochs} epochs of {win.steps_per_epoch} steps): "
            f"<code>{_e(win.spec)}</code></p>"
            f"<p>The search trained {result.member_epochs} member-epochs, {share:.0%} of training "
            f"every candidate with every seed to the end ({result.full_member_epochs}).</p></div>"
        )
        parts.append("<h2>Use it</h2>")
        for framework, code in result.snippets().items():
            if framework == "spec":
                continue
            parts.append(
                f'<h3>{_e(framework)}</h3><pre style="overflow-x:auto;white-space:pre-wrap">'
                f"<code>{_e(code)}</code></pre>"
            )
    head = ["#", "family", "template", "tuned", f"final {_e(result.metric)} [95% CI]",
            "vs baseline [95% CI]", "candidates", "pruned"]  # fmt: skip
    body = []
    for i, fam in enumerate(result.families, 1):
        row = rows.get(fam.best_label or "")
        final = "-" if row is None else (
            f"{_num(row.final.mean)} <span class=meta>[{_num(row.final.low)}, "
            f"{_num(row.final.high)}]</span>"
        )  # fmt: skip
        vs = "-"
        if row is not None and row.vs_baseline is not None and row.vs_baseline.n:
            d = row.vs_baseline
            vs = fmt.difference(d.mean_diff)
            if not math.isnan(d.low):
                vs += (
                    f" <span class=meta>[{fmt.difference(d.low)}, {fmt.difference(d.high)}]</span>"
                )
        elif row is not None and row.label == ranking.baseline:
            vs = "baseline"
        body.append([
            str(i), f"<strong>{_e(fam.label)}</strong>", f"<code>{_e(fam.template)}</code>",
            _e(_params(fam.params)) or "-", final, vs, str(len(fam.candidates)),
            str(sum(c.outcome == "pruned" for c in fam.candidates)),
        ])  # fmt: skip
    parts += [
        "<h2>Best member of each family</h2>",
        f'<p class="meta">Each family\'s finalist trained with every seed for the whole run; '
        f"95% Student-t intervals; paired differences against the baseline "
        f"{_e(ranking.baseline or '(none)')}.</p>",
        table(head, body, {0, 4, 5, 6, 7}),
        "<h2>Best at each budget</h2>",
        '<p class="meta">Each family\'s best candidate among those trained at that budget (its '
        "schedule compressed to it): which schedule to use for a shorter run. With early "
        "stopping the shorter budgets saw every candidate, the longer ones the survivors only; "
        "<code>--pruner none --rungs ...</code> trains every candidate at every budget.</p>",
        _budget_table(result),
        "<h2>Candidates at every rung</h2>",
        '<p class="meta">Score = the final metric of the rung\'s run (its schedule compressed to '
        "the rung's budget), mean over the rung's seeds; hollow: pruned there.</p>",
        _img(
            plots.plot_search(result.families, result.budgets, result.metric),
            "scores of the candidates at each rung",
        ),
    ]
    for fam in result.families:
        head = ["trial", "bracket", "parameters", *[f"{b} ep" for b in result.budgets], "outcome"]
        body = [
            [str(c.trial), str(c.bracket), _e(_params(c.params)),
             *[_num(c.scores.get(b)) if b in c.scores else "" for b in result.budgets],
             _e(c.outcome)]
            for c in fam.candidates
        ]  # fmt: skip
        parts += [
            f"<h3>{_e(fam.label)}</h3>",
            table(head, body, {0, 1, *range(3, 3 + len(result.budgets))}),
        ]
    parts += [
        "<h2>How the search decides</h2>",
        "<p>Successive halving over (family &times; parameters &times; seed): at each rung every "
        "live candidate trains from scratch for the rung's budget with its family <em>compressed</em> "
        "to that budget (the template's <code>E</code> is the rung's length), so every shape is "
        "compared as a complete schedule of the same length; the best 1/eta of each family go on. "
        "Runs that share their first epochs with the candidate's full run (a WSD's constant "
        "phase, a constant rate, schedule-free) fork from it instead of repeating them. "
        f"Sampler <code>{_e(result.settings.get('sampler'))}</code>, pruner "
        f"<code>{_e(result.settings.get('pruner'))}</code>, Optuna storage "
        f"<code>{_e(result.storage)}</code>. See docs/search.md.</p>",
    ]
    if compare_page is not None:
        parts.append(
            f"<p>Curves, per-seed tables and pitfall checks of the finalists: "
            f'<a href="{_e(compare_page.name)}">{_e(compare_page.name)}</a>.</p>'
        )
    return page(f"schedlab search: {result.name}", "\n".join(parts))


def write_search_report(result: Any, out_dir: Path, compare_page: Path | None = None) -> Path:
    """Write the search report to ``out_dir/<name>-search.html`` and return its path."""
    from schedlab.lab.runs.files import write_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_atomic(
        out / f"{_safe(result.name)}-search.html", render_search_report(result, compare_page)
    )
