"""``schedlab compare``, ``schedlab runs`` and ``schedlab export``: the lab on the command line.

``compare`` runs (or resumes) a sweep of schedules x seeds into a run store, prints the ranking and
writes the report; on a built-in model and dataset, or on the user's own model and data
(``--model file.py:factory --data file.py:loader``).  Bad flags or config keys exit with status 2
and a one-line error, no traceback, before anything is trained or stored.  ``runs`` lists stored
runs and deletes them (``--delete --yes``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schedlab.cli import app
from schedlab.cli.output import console as stdout_console
from schedlab.cli.output import errors
from schedlab.errors import ConfigError
from schedlab.lab.runs.store import DEFAULT_STORE

if TYPE_CHECKING:
    from schedlab.lab.runs.rows import RunRow
    from schedlab.lab.runs.store import RunStore

_STORE_HELP = "SQLite run store file (created if missing)."


@app.command()
def compare(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config file (keys as the flags).")
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option("--schedule", "-s", help="Schedule SPEC or label=SPEC (repeatable)."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="mnist, fashion-mnist, cifar10, digits, linreg.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="mlp, mlp2, cnn, vit, linear, or your model's factory: pkg.module:factory or "
            "path/to/file.py:factory."
        ),
    ] = None,
    model_kwargs: Annotated[
        str | None, typer.Option(help="Your factory's arguments, YAML: '{width: 64}'.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Your data: pkg.module:loader or file.py:loader returning (train, val)."),
    ] = None,
    data_kwargs: Annotated[
        str | None, typer.Option(help="Your loader's arguments, YAML: '{n: 512}'.")
    ] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="sgd, adam, or a class for your model: torch.optim.AdamW.")
    ] = None,
    optimizer_kwargs: Annotated[
        str | None, typer.Option(help="Your optimizer's arguments, YAML: '{weight_decay: 0.05}'.")
    ] = None,
    momentum: Annotated[float | None, typer.Option(help="SGD momentum.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="L2 weight decay.")] = None,
    loss: Annotated[
        str | None,
        typer.Option(help="cross_entropy, mse, or for your model an import path (function/class)."),
    ] = None,
    loss_kwargs: Annotated[
        str | None, typer.Option(help="A loss class's arguments, YAML: '{label_smoothing: 0.1}'.")
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option(help="Your model's metric NAME=IMPORT, e.g. f1=mymetrics:f1 (repeatable)."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="Your model: auto, stacked or per-run.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Your model, per-run engine: worker processes.")
    ] = None,
    script: Annotated[
        str | None,
        typer.Option(
            help="Your own training function, file.py:train or pkg.module:train, called with a "
            "trial per schedule x seed (schedlab.lab.run_trials)."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per run.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Samples per optimizer step.")] = None,
    train_size: Annotated[
        str | None,
        typer.Option(help="Samples drawn from the training split (incl. validation), or all."),
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Fraction held out for validation.")
    ] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the subsample and split.")] = None,
    unit: Annotated[str | None, typer.Option(help="Schedule step unit: epoch or step.")] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Number of seeds (3) or a list (0,4,7).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Baseline label or spec (default: the constant one).")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="val_acc, val_loss, train_acc, train_loss, or one of your metrics with its "
            "direction: val_f1:max, val_mae:min."
        ),
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="Metric target for epochs-to-target (default: baseline).")
    ] = None,
    tests: Annotated[
        bool | None,
        typer.Option(
            "--tests/--no-tests",
            help="Decide each schedule vs the baseline: Holm, sign test, bootstrap, power.",
        ),
    ] = None,
    sesoi: Annotated[
        float | None,
        typer.Option(help="Smallest difference that matters (metric units): equivalence tests."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
    store: Annotated[str | None, typer.Option(help=_STORE_HELP)] = None,
    out: Annotated[str | None, typer.Option(help="Folder for the report and ranking.json.")] = None,
    name: Annotated[
        str | None, typer.Option(help="Sweep name (default: derived from settings).")
    ] = None,
    group_size: Annotated[int | None, typer.Option(help="Runs trained together (batched).")] = None,
    data_root: Annotated[str | None, typer.Option(help="Folder with the dataset files.")] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML report at the end.")] = True,
    backend: Annotated[str, typer.Option(help="Where groups train: local or ray.")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster: auto, host:port or ray://host:port.")
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(help="Ray tasks at a time (default: one per cluster CPU).")
    ] = None,
    track: Annotated[
        list[str] | None, typer.Option(help="Live tracking: mlflow, tensorboard (repeatable).")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: MLflow's).")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default: the sweep name).")
    ] = None,
    tb_logdir: Annotated[
        Path | None, typer.Option(help="TensorBoard folder (default: OUT/tensorboard).")
    ] = None,
) -> None:
    """Compare schedules by real training: a sweep of schedules x seeds, resumable, ranked."""
    from schedlab.lab.sweeps.settings import KEYS

    flags = dict(locals())  # the parameters; those named like settings keys become overrides
    overrides = {k: v for k, v in flags.items() if k in KEYS}
    overrides["schedules"] = schedule or None
    overrides["metrics"] = metrics or None
    console = stdout_console()
    with errors():
        from schedlab.cli.lab_tables import decision_table, ranking_table
        from schedlab.cli.tracking_options import finish_trackers, make_trackers
        from schedlab.lab.runs.files import check_output_folder
        from schedlab.lab.sweeps.backends import make_backend
        from schedlab.lab.sweeps.compare import run_comparison
        from schedlab.lab.sweeps.progress import progress
        from schedlab.lab.sweeps.settings import build_settings, read_config_file

        settings = build_settings(read_config_file(config) if config else {}, overrides)
        out_dir = check_output_folder(settings.out, "--out")  # before training, not after
        if tb_logdir is not None:
            check_output_folder(tb_logdir, "--tb-logdir")
        runner = (
            None if settings.script else make_backend(backend, address=address, workers=ray_workers)
        )
        trackers = make_trackers(
            track, tracking_uri=tracking_uri, experiment=experiment,
            logdir=tb_logdir or out_dir / "tensorboard",
        )  # fmt: skip
        try:
            if settings.script is not None:
                result = _run_script(settings, backend, address, trackers)
            else:
                with progress(settings.name or "sweep") as update:
                    result = run_comparison(
                        settings.config, settings.schedules, settings.seeds,
                        store=settings.store, name=settings.name, baseline=settings.baseline,
                        metric=settings.metric, target=settings.target, tests=settings.tests,
                        sesoi=settings.sesoi, device=settings.device,
                        group_size=settings.group_size, data_root=settings.data_root,
                        backend=runner, trackers=trackers, progress=update,
                    )  # fmt: skip
        except KeyboardInterrupt:
            console.print("interrupted: rerun the same command to resume")
            raise typer.Exit(130) from None
        outcome = result.outcome
        console.print(
            f"sweep {result.name}: {len(outcome.run_ids)} runs in {settings.store} "
            f"({outcome.skipped} already done, {outcome.resumed} resumed, "
            f"{outcome.started} started)" + (f"; engine: {result.engine}" if result.engine else "")
        )
        console.print(ranking_table(result.ranking))
        if result.ranking.tests:
            console.print(decision_table(result.ranking))
        ranking_path = result.save_ranking(out_dir)
        console.print(f"ranking: {ranking_path}")
        report_path = None
        if report:
            report_path = result.report(out_dir)
            console.print(f"report: {report_path}")
        for line in finish_trackers(trackers, result.name, [ranking_path, report_path]):
            console.print(line)


def _run_script(settings: Any, backend: str, address: str | None, trackers: Any) -> Any:
    """``--script file.py:train``: the user's own training function under every schedule x seed."""
    from schedlab.lab.sweeps.trials import run_trials

    return run_trials(
        settings.script, schedules=settings.schedules, seeds=settings.seeds,
        epochs=settings.epochs, store=settings.store, name=settings.name, unit=settings.unit,
        workers=settings.workers, backend=backend, address=address, baseline=settings.baseline,
        metric=settings.metric, tests=settings.tests, sesoi=settings.sesoi, trackers=trackers,
    )  # fmt: skip


@app.command()
def runs(
    store: Annotated[str, typer.Option(help=_STORE_HELP)] = DEFAULT_STORE,
    sweep: Annotated[str | None, typer.Option(help="Only this sweep.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, running, finished, diverged, failed.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Only this schedule label.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="Only this optimizer.")] = None,
    seed: Annotated[int | None, typer.Option(help="Only this seed.")] = None,
    run_id: Annotated[
        list[int] | None, typer.Option("--id", help="Only this run id (repeatable).")
    ] = None,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            help="Delete the runs listed (epochs, rates, checkpoints, sweep places); needs a "
            "filter, and --yes to act.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --delete: really delete.")] = False,
) -> None:
    """List stored runs (filtered) with their last validation metrics, or delete them."""
    with errors():
        from schedlab.cli.lab_tables import runs_table
        from schedlab.lab.runs.store import STATUSES, RunStore

        if status is not None and status not in STATUSES:
            raise ConfigError(f"--status must be one of {', '.join(STATUSES)}; got {status!r}")
        filters = dict(
            status=status, label=label, dataset=dataset, model=model, optimizer=optimizer,
            seed=seed, id=run_id or None,
        )  # fmt: skip
        if yes and not delete:
            raise ConfigError("--yes confirms --delete; give both to delete runs")
        if delete and sweep is None and all(v is None for v in filters.values()):
            raise ConfigError(
                "--delete needs a filter (--sweep, --status, --label, --seed, --id, ...); to "
                f"delete every run, delete the file {store!r}"
            )
        _existing(store)
        with RunStore(store) as run_store:
            rows = run_store.runs(sweep, **filters)
            last = {r.id: next(reversed(run_store.epochs(r.id)), None) for r in rows}
            stdout_console().print(runs_table(rows, last))
            if delete:
                _delete(run_store, rows, yes)


def _delete(run_store: RunStore, rows: list[RunRow], yes: bool) -> None:
    """``runs --delete``: the listed runs, after ``--yes``, with the store's sweep lock held."""
    from schedlab.lab.sweeps.run import exclusive

    ids = sorted({r.id for r in rows})
    console = stdout_console()
    if not ids:
        console.print("no run matches: nothing to delete")
        return
    listed = {r.sweep for r in rows}
    also = sorted(
        {r.sweep for r in run_store.runs(id=ids)} - listed
    )  # a run is one; deleting it removes it from every sweep that has it
    note = f" (also from sweep(s) {', '.join(map(repr, also))})" if also else ""
    if not yes:
        console.print(
            f"{len(ids)} run(s) would be deleted with their epochs, rates and checkpoints"
            f"{note}; add --yes to delete them"
        )
        return
    with exclusive(run_store):  # not while a sweep writes to the store
        done = run_store.delete_runs(ids)
    gone = f"; sweep(s) left empty and deleted: {', '.join(done.sweeps)}" if done.sweeps else ""
    console.print(
        f"deleted {done.runs} run(s){note}, {done.epochs} epoch row(s), "
        f"{done.checkpoints} checkpoint(s){gone}"
    )


@app.command()
def export(
    store: Annotated[str, typer.Option(help=_STORE_HELP)] = DEFAULT_STORE,
    format: Annotated[
        str, typer.Option("--format", "-f", help="csv, json, mlflow or tensorboard.")
    ] = "csv",
    sweep: Annotated[str | None, typer.Option(help="Only this sweep.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output file (default: standard output); tensorboard: the log folder."),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="mlflow: tracking URI (default: MLflow's).")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="mlflow: experiment (default: the sweep name).")
    ] = None,
    artifact: Annotated[
        list[Path] | None,
        typer.Option(help="mlflow: file attached to the sweep run, e.g. the report (repeatable)."),
    ] = None,
) -> None:
    """Write stored runs and their per-epoch metrics as CSV (one row per run-epoch) or JSON, or
    send them to MLflow or TensorBoard event files."""
    with errors():
        from schedlab.cli.tracking_options import TRACKER_FORMATS, export_tracked
        from schedlab.lab.runs.export import export_runs
        from schedlab.lab.runs.files import (
            check_output_file,
            check_output_folder,
            output_file,
            write_atomic,
        )
        from schedlab.lab.runs.store import RunStore

        _existing(store)
        if out is not None:  # before reading anything
            (check_output_folder if format in TRACKER_FORMATS else check_output_file)(out, "--out")
        if format in TRACKER_FORMATS:
            with RunStore(store) as run_store:
                stdout_console().print(export_tracked(
                    run_store, format, sweep, tracking_uri=tracking_uri, experiment=experiment,
                    logdir=out, artifacts=artifact or [],
                ))  # fmt: skip
            return
        with RunStore(store) as run_store:
            text = export_runs(run_store, format, sweep=sweep)
        if out is None:
            sys.stdout.write(text)
        else:
            write_atomic(output_file(out, "--out"), text, "--out")


def _existing(store: str) -> None:
    if not Path(store).is_file():
        raise ConfigError(f"--store: no run store at {store!r} (run `schedlab compare` first)")
