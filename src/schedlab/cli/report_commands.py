"""``schedlab plot``, ``check``, ``report`` and ``find-lr``: looking at schedules and results.

Bad arguments exit with status 2 and a one-line ``Error: ...``; ``check --strict`` exits with
status 1 when it finds a pitfall.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schedlab.cli import app
from schedlab.cli.output import errors
from schedlab.errors import ConfigError

_STEPS_HELP = "Run length in the schedule's unit (optimizer steps, or epochs if stepped per epoch)."
#: ``plot`` draws one point per step: more would take minutes and gigabytes for one picture
MAX_PLOT_STEPS = 10_000_000
_SPE_HELP = "Optimizer steps per epoch (adds an epoch axis; enables the unit mix-up check)."


@app.command()
def plot(
    specs: Annotated[list[str], typer.Argument(help="Schedule specs, e.g. 'cosine(0.1, 1000)'.")],
    steps: Annotated[int, typer.Option(help=_STEPS_HELP)],
    steps_per_epoch: Annotated[int | None, typer.Option(help=_SPE_HELP)] = None,
    log: Annotated[bool, typer.Option("--log", help="Logarithmic learning-rate axis.")] = False,
    out: Annotated[Path, typer.Option(help="Output file, .png or .svg.")] = Path("schedules.png"),
) -> None:
    """Plot learning-rate curves of one or more schedules."""
    from schedlab.lab.runs.files import check_output_file, output_file, write_atomic
    from schedlab.report.plots import figure_bytes, plot_schedules

    with errors():
        fmt = _figure_format(out)
        check_output_file(out, "--out")
        if steps > MAX_PLOT_STEPS:
            raise ConfigError(
                f"--steps: at most {MAX_PLOT_STEPS:,} steps are drawn (one point each); got "
                f"{steps:,} (plot a shorter horizon, e.g. the schedule written in epochs)"
            )
        fig = plot_schedules(specs, steps, steps_per_epoch=steps_per_epoch, log=log)
        write_atomic(output_file(out, "--out"), figure_bytes(fig, fmt), "--out")
    Console().print(f"wrote {out}", highlight=False)


def _figure_format(out: Path) -> str:
    """``png`` or ``svg``, from the suffix of ``--out``."""
    if out.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"out must end in .png or .svg; got {str(out)!r}")
    return out.suffix.lower()[1:]


@app.command()
def check(
    spec: Annotated[str, typer.Argument(help="Schedule spec to check.")],
    steps: Annotated[int, typer.Option(help=_STEPS_HELP)],
    steps_per_epoch: Annotated[int | None, typer.Option(help=_SPE_HELP)] = None,
    optimizer: Annotated[str | None, typer.Option(help="sgd, adam or adamw.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Samples per optimizer step.")] = None,
    model: Annotated[str | None, typer.Option(help="Model kind, e.g. mlp, cnn, vit.")] = None,
    exploration: Annotated[
        bool, typer.Option("--exploration", help="Not a final training run (cyclical is fine).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any pitfall is found.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    unit: Annotated[
        str | None, typer.Option(help="What --steps counts: epoch or step (optimizer steps).")
    ] = None,
) -> None:
    """Check a schedule for common pitfalls; each finding comes with a fixed spec."""
    from schedlab.schedules.checks import RunContext
    from schedlab.schedules.checks import check as run_checks

    with errors():
        context = RunContext(
            steps=steps,
            steps_per_epoch=steps_per_epoch,
            optimizer=optimizer,
            batch_size=batch_size,
            model=model,
            final=not exploration,
            unit=unit,
        )
        findings = run_checks(spec, context)
    console = Console(highlight=False)
    if as_json:
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    elif not findings:
        console.print("[green]no pitfalls found[/]")
    for f in [] if as_json else findings:
        console.print(f"[bold yellow]{f.id}[/] [bold]{f.title}[/]: {f.message}", soft_wrap=True)
        per = f" (per optimizer {f.fix_unit})" if f.fix_unit else ""
        console.print(f"  fix{per}: {f.fix}", markup=False, soft_wrap=True)
    if strict and findings:
        raise typer.Exit(1)


@app.command()
def report(
    store: Annotated[Path, typer.Option(help="SQLite run store file.")],
    sweep: Annotated[str, typer.Option(help="Sweep name (see `schedlab runs`).")],
    out: Annotated[Path, typer.Option(help="Output folder; the file is <sweep>.html.")] = Path(
        "report"
    ),
    metric: Annotated[
        str,
        typer.Option(
            help="val_acc, val_loss, train_acc, train_loss, or one of your metrics with its "
            "direction: val_f1:max."
        ),
    ] = "val_acc",
    baseline: Annotated[str | None, typer.Option(help="Baseline label or spec.")] = None,
    tests: Annotated[
        bool, typer.Option("--tests/--no-tests", help="Add the decisions vs the baseline.")
    ] = False,
    sesoi: Annotated[
        float | None, typer.Option(help="Smallest difference that matters (implies --tests).")
    ] = None,
) -> None:
    """Write the self-contained HTML report of a sweep."""
    from schedlab.report.html import write_report

    with errors():
        path = write_report(store, sweep, out, metric=metric, baseline=baseline, tests=tests,
                            sesoi=sesoi)  # fmt: skip
    Console().print(f"report: {path}", highlight=False)


@app.command("find-lr")
def find_lr_command(
    dataset: Annotated[str, typer.Option(help="mnist, fashion-mnist, cifar10, digits, linreg.")] = (
        "mnist"
    ),
    model: Annotated[str, typer.Option(help="mlp, mlp2, cnn, vit, linear.")] = "mlp",
    optimizer: Annotated[str, typer.Option(help="sgd or adam.")] = "sgd",
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Samples per step.")] = 64,
    train_size: Annotated[
        str | None,
        typer.Option(
            help="Training samples drawn, or all (default: 10000; all of digits, linreg)."
        ),
    ] = None,
    start_lr: Annotated[float, typer.Option(help="First rate of the ramp.")] = 1e-7,
    end_lr: Annotated[float, typer.Option(help="Last rate of the ramp.")] = 10.0,
    num_steps: Annotated[int, typer.Option(help="Steps of the ramp.")] = 200,
    epochs: Annotated[int, typer.Option(help="Epochs of the training the spec is for.")] = 10,
    seed: Annotated[int, typer.Option(help="Model init and data order.")] = 0,
    data_root: Annotated[str | None, typer.Option(help="Data folder.")] = None,
    out: Annotated[Path, typer.Option(help="Plot file, .png or .svg.")] = Path("lr_finder.png"),
) -> None:
    """LR range test on a built-in dataset and model: suggested rates and schedule specs."""
    from schedlab.lab.runs.files import check_output_file, output_file, write_atomic
    from schedlab.lab.sweeps.settings import default_train_size, parse_train_size
    from schedlab.report.plots import figure_bytes, plot_range_test

    with errors():
        fmt = _figure_format(out)
        check_output_file(out, "--out")  # before training, not after
        if optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optimizer must be one of sgd, adam; got {optimizer!r}")
        if not (math.isfinite(momentum) and 0 <= momentum < 1):
            raise ConfigError(f"--momentum must be a number in [0, 1); got {momentum!r}")
        if optimizer == "adam" and momentum != 0:
            raise ConfigError(
                f"--momentum applies to --optimizer sgd only (adam uses betas); got "
                f"--momentum {momentum!r} with --optimizer adam"
            )
        if batch_size < 1 or epochs < 1:
            raise ConfigError(
                f"batch_size and epochs must be >= 1; got batch_size={batch_size}, epochs={epochs}"
            )
        size = default_train_size(dataset) if train_size is None else parse_train_size(train_size)
        result, spe = _range_test(
            dataset, model, optimizer, momentum, batch_size, size, start_lr, end_lr,
            num_steps, seed, data_root,
        )  # fmt: skip
        write_atomic(output_file(out, "--out"), figure_bytes(plot_range_test(result), fmt), "--out")
    from schedlab.schedules.checks import compact_text

    console = Console(highlight=False)
    stop = "stopped at divergence" if result.diverged else "full ramp"
    console.print(f"LR range test: {len(result.lrs)} steps ({stop}), plot: {out}")
    for name, value in result.suggestions.items():
        console.print(f"  {name:>17}: {value:.3g}")
    one, cyc = result.one_cycle(epochs * spe), result.cyclic(2 * spe)
    console.print(f"suggested one-cycle: {compact_text(one)}", markup=False, soft_wrap=True)
    console.print(f"suggested cyclic:    {compact_text(cyc)}", markup=False, soft_wrap=True)
    console.print(
        f"(steps in optimizer iterations: {spe} per epoch x {epochs} epochs; step them per batch)"
    )


def _range_test(
    dataset: str,
    model: str,
    optimizer: str,
    momentum: float,
    batch_size: int,
    train_size: int | None,
    start_lr: float,
    end_lr: float,
    num_steps: int,
    seed: int,
    data_root: str | None,
):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from schedlab.adapters.lr_finder import find_lr
    from schedlab.lab.data.datasets import load_dataset
    from schedlab.lab.train.models import build_model

    ds = load_dataset(dataset, root=data_root, train_size=train_size, seed=seed)
    if batch_size > len(ds.x_train):
        raise ConfigError(
            f"--batch-size ({batch_size}) is larger than the training split of {dataset!r} "
            f"({len(ds.x_train)} samples): every step would see the same whole split"
        )
    torch.manual_seed(seed)
    net = build_model(model, ds.input_shape, ds.num_classes)
    params = net.parameters()
    opt = (
        torch.optim.SGD(params, lr=start_lr, momentum=momentum)
        if optimizer == "sgd"
        else torch.optim.Adam(params, lr=start_lr)
    )
    loss_fn = torch.nn.CrossEntropyLoss() if ds.task == "classification" else _mse
    data = TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train))
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    result = find_lr(net, loader, opt, loss_fn, start_lr, end_lr, num_steps)
    return result, math.ceil(len(data) / batch_size)


def _mse(output, target):
    import torch

    return torch.nn.functional.mse_loss(output.reshape(target.shape), target)
