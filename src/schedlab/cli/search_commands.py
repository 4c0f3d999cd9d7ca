"""``schedlab search``: find the schedule -- families with free parameters, successive halving in
batched rungs, the finalists compared over every seed, the winner with copy-paste snippets.

Bad flags, config keys, families or ranges exit with status 2 and a one-line error.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from schedlab.cli import app
from schedlab.cli.output import console as stdout_console
from schedlab.cli.output import errors
from schedlab.errors import ConfigError

SNIPPETS = ("all", "pytorch", "none")


def resolve(ref: str, what: str) -> Any:
    """The object ``FILE.py:NAME`` or ``MODULE:NAME`` (or ``package.module.NAME``) names."""
    path, sep, attr = ref.rpartition(":")
    if not sep:
        path, _, attr = ref.rpartition(".")
    if not path or not attr:
        raise ConfigError(f"{what}: write FILE.py:NAME or MODULE:NAME; got {ref!r}")
    try:
        if path.endswith(".py"):
            file = Path(path)
            if not file.is_file():
                raise ConfigError(f"{what}: no such file {path!r}")
            spec = importlib.util.spec_from_file_location(file.stem, file)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules.setdefault(file.stem, module)
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(path)
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"{what}: cannot import {path!r}: {type(err).__name__}: {err}") from None
    if not hasattr(module, attr):
        raise ConfigError(f"{what}: {path!r} has no {attr!r}")
    return getattr(module, attr)


def _user_arguments(user: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """``schedlab.lab.search`` arguments for the user's own model, factory and loader resolved."""
    factory = resolve(user["model"], "model")
    kwargs = dict(user.get("model_kwargs") or {})
    loader = resolve(user["data"], "data")
    try:
        train_split, val_split = loader()
    except (TypeError, ValueError) as err:
        raise ConfigError(f"data: {user['data']!r} must return (train, val): {err}") from None
    opt = user["optimizer"]
    cls = resolve(opt, "optimizer") if isinstance(opt, str) else opt
    out = {
        "model": (lambda: factory(**kwargs)) if kwargs else factory,
        "train": train_split, "val": val_split,
        "optimizer": (cls, dict(user.get("optimizer_kwargs") or {})),
        "engine": user.get("engine", "auto"), "workers": user.get("workers"),
        "model_name": getattr(factory, "__name__", None),
    }  # fmt: skip
    out.update({k: train[k] for k in ("loss", "epochs", "batch_size", "unit") if k in train})
    return out


def _builtin_arguments(train: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in train.items() if k not in ("model", "dataset")}
    return {"model": train.get("model", "mlp"), "train": train.get("dataset", "mnist"), **rest}


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


@app.command()
def search(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config file (keys as the flags).")
    ] = None,
    family: Annotated[
        list[str] | None,
        typer.Option(
            "--family",
            "-f",
            help="Family TEMPLATE or label=TEMPLATE, e.g. 'cosine(lr=?, steps=E)' (repeatable).",
        ),
    ] = None,
    contenders: Annotated[str | None, typer.Option(help="Ready-made families: modern.")] = None,
    range_: Annotated[
        list[str] | None,
        typer.Option("--range", "-r", help="NAME=RANGE, e.g. lr=loguniform(1e-4, 1) (repeatable)."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="mnist, fashion-mnist, cifar10, digits, linreg.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="mlp, mlp2, cnn, vit, linear, or FILE:FACTORY.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="FILE:LOADER returning (train, val), for FILE:FACTORY models."),
    ] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="sgd or adam; torch.optim.AdamW for your model.")
    ] = None,
    momentum: Annotated[float | None, typer.Option(help="SGD momentum.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="L2 weight decay.")] = None,
    loss: Annotated[str | None, typer.Option(help="cross_entropy or mse.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs of the full run (default 9).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Samples per optimizer step.")] = None,
    train_size: Annotated[
        str | None, typer.Option(help="Samples drawn from the training split, or all.")
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Fraction held out for validation.")
    ] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the subsample and split.")] = None,
    unit: Annotated[
        str | None, typer.Option(help="Schedule step unit (what E counts): epoch or step.")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Seeds of the final comparison: 3 or 0,4,7.")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="val_acc, val_loss, train_acc, train_loss.")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Candidates per family (default 9).")] = None,
    eta: Annotated[int | None, typer.Option(help="Each rung keeps 1/eta (default 3).")] = None,
    min_epochs: Annotated[
        int | None, typer.Option(help="Budget of the first rung, at least (default 1).")
    ] = None,
    rungs: Annotated[str | None, typer.Option(help="Rung budgets in epochs, e.g. 1,3,9.")] = None,
    brackets: Annotated[
        int | None, typer.Option(help="Hyperband brackets (default 1: successive halving).")
    ] = None,
    rung_seeds: Annotated[
        int | None, typer.Option(help="Seeds per rung before the last (default 1).")
    ] = None,
    sampler: Annotated[str | None, typer.Option(help="qmc, tpe, random or grid.")] = None,
    sampler_seed: Annotated[int | None, typer.Option(help="Seed of the sampler.")] = None,
    pruner: Annotated[str | None, typer.Option(help="halving, asha or none.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default STORE.optuna.sqlite).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
    store: Annotated[
        str | None, typer.Option(help="SQLite run store file (created if missing).")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Folder for the report, search.json and ranking.json.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Search name (default: derived from settings).")
    ] = None,
    group_size: Annotated[int | None, typer.Option(help="Runs trained together (batched).")] = None,
    data_root: Annotated[str | None, typer.Option(help="Folder with the dataset files.")] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report at the end.")] = True,
    snippets: Annotated[
        str, typer.Option(help="Code to print for the winner: all, pytorch, none.")
    ] = "all",
) -> None:
    """Find the schedule: the best member of each family and the best family, with early stopping."""
    from schedlab.lab.searches.settings import KEYS

    flags = dict(locals())
    overrides = {k: v for k, v in flags.items() if k in KEYS}
    overrides["families"] = family or None
    overrides["ranges"] = range_ or None
    console = stdout_console()
    with errors():
        from schedlab.lab.runs.files import check_output_folder
        from schedlab.lab.search_api import search as run
        from schedlab.lab.searches.settings import build_search_settings
        from schedlab.lab.sweeps.settings import read_config_file

        if snippets not in SNIPPETS:
            raise ConfigError(f"--snippets must be one of {', '.join(SNIPPETS)}; got {snippets!r}")
        settings = build_search_settings(read_config_file(config) if config else {}, overrides)
        out_dir = check_output_folder(settings.out, "--out")
        train = dict(settings.train)
        arguments = (
            _builtin_arguments(train)
            if settings.user is None
            else _user_arguments(dict(settings.user), train)
        )
        try:
            result = run(
                **arguments, families=settings.families, ranges=settings.ranges,
                seeds=settings.seeds, store=settings.store, name=settings.name,
                metric=settings.metric, trials=settings.trials, eta=settings.eta,
                min_epochs=settings.min_epochs, rungs=settings.rungs, brackets=settings.brackets,
                rung_seeds=settings.rung_seeds, sampler=settings.sampler,
                sampler_seed=settings.sampler_seed, pruner=settings.pruner,
                storage=settings.storage, device=settings.device,
                group_size=settings.group_size, data_root=settings.data_root,
            )  # fmt: skip
        except KeyboardInterrupt:
            console.print("interrupted: rerun the same command to resume")
            raise typer.Exit(130) from None
        _print(console, result, snippets)
        console.print(f"search: {result.save(out_dir)}")
        console.print(f"ranking: {out_dir / 'ranking.json'}")
        if report:
            console.print(f"report: {result.report(out_dir)}")


def _print(console: Any, result: Any, which: str) -> None:
    from rich.table import Table

    console.print(
        f"search {result.name}: {len(result.families)} families, rungs of "
        f"{', '.join(map(str, result.budgets))} epochs; {result.member_epochs} member-epochs "
        f"trained ({result.member_epochs / max(result.full_member_epochs, 1):.0%} of every "
        f"candidate x seed to the end, {result.full_member_epochs}); store {result.store}"
    )
    rows = {row.label: row for row in result.ranking}
    table = Table(title=f"best member of each family, mean final {result.metric} over "
                        f"{len(result.seeds)} seeds [95% CI]")  # fmt: skip
    for col in ("#", "family", "tuned", "final [95% CI]", "candidates", "pruned"):
        table.add_column(col, justify="right" if col in ("#", "candidates", "pruned") else "left")
    for i, fam in enumerate(result.families, 1):
        row = rows.get(fam.best_label or "")
        ci = (
            "-"
            if row is None
            else f"{_fmt(row.final.mean)} [{_fmt(row.final.low)}, {_fmt(row.final.high)}]"
        )
        tuned = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fam.params.items()
        )
        pruned = sum(c.outcome == "pruned" for c in fam.candidates)
        table.add_row(str(i), fam.label, tuned or "-", ci, str(len(fam.candidates)), str(pruned))
    console.print(table)
    win = result.winner
    if win is None:
        console.print("no finalist finished: nothing to recommend")
        return
    tuned = ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in win.params.items()
    )
    console.print(f"winner: {win.family} with {tuned}")
    console.print(f"spec: {win.spec}", markup=False, highlight=False, soft_wrap=True)
    if which == "none":
        return
    for framework, code in result.snippets().items():
        if framework == "spec" or (which == "pytorch" and framework != "pytorch"):
            continue
        console.print(f"--- {framework} ---", markup=False, highlight=False)
        console.print(code.rstrip(), markup=False, highlight=False, soft_wrap=True)  # pasteable
