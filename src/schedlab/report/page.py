"""The skeleton of every HTML page schedlab writes: one style sheet, escaping, tables.

Pages are self-contained (no external files): figures are embedded as data URIs by the caller.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
 color:#1d2330;background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff;min-height:100vh}
h1{font-size:1.6em;margin:.2em 0 .1em}h2{font-size:1.25em;margin:1.6em 0 .5em;
 border-bottom:2px solid #e3e6eb;padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .4em}
.meta{color:#5b6474;font-size:.9em}
.rec{background:#eef6ee;border-left:5px solid #2ca02c;padding:10px 16px;border-radius:4px}
.rec p{margin:.35em 0}
table{border-collapse:collapse;width:100%;font-size:.88em;margin:.4em 0}
th,td{border-bottom:1px solid #e3e6eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;
 background:#f0f2f5;padding:1px 4px;border-radius:3px;word-break:break-all}
img{max-width:100%;height:auto;display:block;margin:.5em 0}
.warn{border-left:4px solid #e8a33d;background:#fdf6ea;padding:6px 12px;margin:.4em 0;border-radius:3px}
.warn.bad{border-color:#d62728;background:#fcefef}
.id{font-weight:700;margin-right:.4em}.ok{color:#2b7a2b}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em}
.confirmed,.better{background:#d9f2d9}.refuted,.worse{background:#f8d7d7}.inconclusive{background:#fff3cd}.no-difference{background:#dbeaf7}
"""


def escape(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Collection[int] = (),
    *,
    row_class: Sequence[str | None] | None = None,
    cell_class: dict[int, Sequence[str]] | None = None,
) -> str:
    """A table of already-escaped cells; columns in ``numeric`` right-aligned.  ``cell_class[i]``
    gives a CSS class per row for column ``i`` (e.g. a verdict colour)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, c in enumerate(row):
            classes = ["num"] if i in numeric else []
            if cell_class and i in cell_class:
                classes.append(cell_class[i][r])
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{c}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, body: str) -> str:
    """A whole HTML document: ``title`` (text) and ``body`` (HTML) in the house style."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )
