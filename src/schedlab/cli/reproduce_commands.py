"""``schedlab reproduce NAME``: rerun a source experiment and say which of its claims hold.

A thin shell over :mod:`schedlab.lab.experiments`: train (or resume) the experiment's sweeps at its
pre-declared design (or the pilot, ``--quick``, a custom scale), print the verdict table and the
ranking, and write to ``--out``: ``NAME.html`` (verdicts, every comparison, ranking, figures,
links to each sweep's full report), ``NAME.md``, ``NAME.json`` and ``NAME-*.svg``.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from schedlab.cli import app
from schedlab.cli.output import console as stdout_console
from schedlab.cli.output import errors
from schedlab.errors import ConfigError

DEFAULT_STORE = "runs/experiments.sqlite"


def _table(
    title: str, head: tuple[str, ...], rows: list[list[str]], color_col: int | None
) -> Table:
    table = Table(title=title, show_lines=color_col is not None)
    for h in head:
        table.add_column(h, overflow="fold")
    styles = {"CONFIRMED": "green", "REFUTED": "red", "NO DIFFERENCE": "cyan",
              "INCONCLUSIVE": "yellow"}  # fmt: skip
    for row in rows:
        cells = list(row)
        if color_col is not None:
            style = styles.get(row[color_col].split(" (")[0], "white")
            cells[color_col] = f"[{style}]{row[color_col]}[/]"
        table.add_row(*cells)
    return table


def _figures(outcome: Any, out: Path) -> dict[str, Path]:
    """The experiment's figures as SVG (``schedlab.report.experiments.figures``): per-seed curves,
    per-step rates, paired differences: ``alt text -> svg path``."""
    from schedlab.report.experiments import figures
    from schedlab.report.plots import save_figure

    name = outcome.experiment.name
    paths = {}
    for key, (alt, fig) in figures(outcome).items():
        paths[alt] = out / f"{name}-{key}.svg"
        save_figure(fig, paths[alt])
    return paths


def _reports(store: Any, outcome: Any, out: Path) -> dict[str, str]:
    """Each sweep's full HTML report (``schedlab.report.html``): ``sweep -> file name``."""
    from schedlab.report.html import write_report

    paths = {}
    for plan in outcome.plans:
        labels = {lb for lb, _ in plan.schedules}
        baseline = outcome.baseline if outcome.baseline in labels else None
        paths[plan.name] = write_report(store, plan.name, out, baseline=baseline).name
    return paths


@app.command()
def reproduce(
    name: Annotated[str, typer.Argument(help="mnist-five, fashion-choose or vit-linear.")],
    quick: Annotated[
        bool, typer.Option(help="The small variant (minutes on 2 CPU cores).")
    ] = False,
    seeds: Annotated[
        int | None,
        typer.Option(help="Seeds per schedule (0..N-1; default: the declared design's seeds)."),
    ] = None,
    pilot: Annotated[
        bool, typer.Option(help="The pilot: the declared scale with seeds 0, 1, 2 (exploratory).")
    ] = False,
    store: Annotated[
        str, typer.Option(help="SQLite run store (created if missing).")
    ] = DEFAULT_STORE,
    out: Annotated[
        str | None, typer.Option(help="Output folder (default out/experiments/NAME).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the variant's epochs.")] = None,
    train_size: Annotated[
        int | None, typer.Option(help="Override the variant's training images (with validation).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    group_size: Annotated[int, typer.Option(help="Runs trained together (batched).")] = 32,
    threads: Annotated[
        int | None, typer.Option(help="torch CPU threads (default: torch's).")
    ] = None,
    figures: Annotated[
        Path | None, typer.Option(help="Also copy the SVG figures into this folder.")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML reports.")] = True,
) -> None:
    """Reproduce a source experiment at its pre-declared design and judge each of its claims:
    confirmed / refuted / no difference / inconclusive (paired tests, Holm within each claim
    family, TOST against the smallest effect of interest, sign test, power)."""
    console = stdout_console()
    with errors():
        from schedlab.lab.experiments import get_experiment, run_experiment
        from schedlab.lab.runs.store import RunStore
        from schedlab.lab.sweeps.progress import progress_many
        from schedlab.report.experiments import (
            RANKING_HEAD,
            VERDICT_HEAD,
            design_lines,
            html_page,
            markdown,
            ranking_rows,
            verdict_rows,
        )  # fmt: skip

        experiment = get_experiment(name)
        if seeds is not None and seeds < 1:
            raise ConfigError(f"--seeds must be >= 1; got {seeds}")
        if threads is not None:
            if threads < 1:
                raise ConfigError(f"--threads must be >= 1; got {threads}")
            import torch

            torch.set_num_threads(threads)
        variant = experiment.variant(
            quick=quick, pilot=pilot, seeds=seeds, epochs=epochs, train_size=train_size
        )
        out_dir = Path(out or f"out/experiments/{name}")
        out_dir.mkdir(parents=True, exist_ok=True)
        Path(store).parent.mkdir(parents=True, exist_ok=True)
        with RunStore(store) as run_store:
            with progress_many() as update:
                outcome = run_experiment(
                    run_store, experiment, variant, device=device, group_size=group_size,
                    progress=update,
                )  # fmt: skip
            console.print(_table(f"{name}: ranking by final val_acc (mean [95% CI] over seeds; "
                                 f"baseline {outcome.baseline})", RANKING_HEAD,
                                 ranking_rows(outcome), None))  # fmt: skip
            for line in design_lines(outcome):
                console.print(line)
            console.print(_table(f"{name}: verdicts", VERDICT_HEAD, verdict_rows(outcome), 2))
            svgs = _figures(outcome, out_dir)
            reports = _reports(run_store, outcome, out_dir) if report else {}
        (out_dir / f"{name}.json").write_text(json.dumps(outcome.to_dict(), indent=2) + "\n")
        (out_dir / f"{name}.md").write_text(
            markdown(outcome, {alt: p.name for alt, p in svgs.items()}), encoding="utf-8"
        )
        if report:
            images = {
                alt: "data:image/svg+xml;base64," + base64.b64encode(p.read_bytes()).decode()
                for alt, p in svgs.items()
            }
            page = out_dir / f"{name}.html"
            page.write_text(html_page(outcome, images, reports), encoding="utf-8")
            console.print(f"report: {page}")
        if figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
            for p in svgs.values():
                shutil.copyfile(p, figures / p.name)
        console.print(f"results: {out_dir / (name + '.json')}, {out_dir / (name + '.md')}")
