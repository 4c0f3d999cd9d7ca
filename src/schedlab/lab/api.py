"""The lab in one call: :func:`compare` schedules on the user's own model (or a built-in one).

>>> from schedlab.lab import compare
>>> result = compare(                                            # doctest: +SKIP
...     model=lambda: MyNet(), train=(x_train, y_train), val=(x_val, y_val),
...     loss="cross_entropy", optimizer=(torch.optim.AdamW, {"weight_decay": 0.05}),
...     schedules={"cos": "cosine(1e-3, 20)", "lin": "linear(1e-3, 0, 20)"},
...     seeds=3, epochs=20, batch_size=128, store="runs/mine.sqlite",
... )
>>> result.ranking[0].label, result.report("out/")               # doctest: +SKIP

See docs/your-model.md for the semantics of a run and the engines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.runs.store import DEFAULT_STORE
from schedlab.lab.runs.tracking import Tracker
from schedlab.lab.sweeps.backends import SweepBackend, make_backend
from schedlab.lab.sweeps.compare import Comparison, run_comparison
from schedlab.lab.sweeps.settings import default_train_size, parse_schedules, parse_seeds
from schedlab.lab.train.config import MODELS, TrainConfig

__all__ = ["compare"]


def _backend(backend: str | SweepBackend | None) -> SweepBackend | None:
    if backend is None or not isinstance(backend, str):
        return backend
    return make_backend(backend)


def compare(
    model: Callable[[], Any] | str,
    train: Any = None,
    val: Any = None,
    *,
    schedules: Sequence[Any] | Mapping[str, Any],
    loss: Any = "cross_entropy",
    optimizer: Any = None,
    metrics: Mapping[str, Callable] | None = None,
    seeds: int | Sequence[int] = 3,
    epochs: int = 10,
    batch_size: int = 64,
    unit: str = "epoch",
    store: str | os.PathLike = DEFAULT_STORE,
    name: str | None = None,
    device: str = "cpu",
    engine: str = "auto",
    workers: int | None = None,
    group_size: int = 16,
    baseline: str | None = None,
    metric: str | None = None,
    target: float | None = None,
    tests: bool = False,
    sesoi: float | None = None,
    backend: str | SweepBackend | None = None,
    trackers: Sequence[Tracker] = (),
    progress: bool = True,
    model_name: str | None = None,
    data_name: str | None = None,
    data_root: str | None = None,
    **builtin: Any,
) -> Comparison:
    """Train ``model`` under every schedule x seed, store every run, rank the schedules.

    Args:
        model: a zero-argument callable returning a new ``torch.nn.Module`` (called after
            ``torch.manual_seed(seed)``, once per run), or the name of a built-in model
            (``mlp``, ``mlp2``, ``cnn``, ``vit``, ``linear``; then ``train`` names a built-in
            dataset and ``builtin`` holds the other :class:`TrainConfig` fields).
        train, val: ``(x, y)`` tensors or arrays, torch Datasets, or ``loader(generator)``
            factories (see :mod:`schedlab.lab.data.tensors`).
        schedules: specs (``"cosine(1e-3, 20)"``, ``"cos=cosine(1e-3, 20)"``, dicts, plateau
            specs) or a ``{label: spec}`` mapping.
        loss: ``"cross_entropy"``, ``"mse"`` or a callable ``(output, target) -> scalar``.
        optimizer: any ``torch.optim``-style class, or ``(class, kwargs)`` (default SGD); the
            rate is the schedule's (no ``lr`` in the kwargs).
        metrics: ``{name: fn(output, target) -> number}``, evaluated on ``val`` after each
            epoch and stored as ``val_<name>``; the loss (and accuracy for classification) always.
        seeds: a count (seeds ``0..n-1``) or a list of seeds.
        epochs, batch_size, unit: as :class:`TrainConfig` (``unit``: what the schedule's ``t``
            counts, ``"epoch"`` or ``"step"``).
        store, name: the SQLite run store and the sweep's name (default: derived from the
            settings, so the same call names the same sweep; rerunning it resumes).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        engine: ``"auto"`` (stacked where the model allows, else per-run; the reason is in
            ``result.engine``), ``"stacked"`` or ``"per-run"``; ``workers``: processes of the
            per-run engine.
        baseline, metric, target: as :func:`schedlab.lab.analysis.stats.rank`.
        tests, sesoi: decide each schedule against the baseline (``row.verdict``: better,
            worse, no difference, inconclusive) with Holm's correction, the sign test, a
            bootstrap interval and power; ``sesoi`` (the smallest difference that matters, in
            metric units) adds equivalence tests and implies ``tests``.  Off by default: the t
            interval and p-value alone are cheap.
        backend: ``"local"`` (default), ``"ray"`` or a backend object; ``trackers``: live
            mirrors (MLflow, TensorBoard).
        progress: show progress on standard error.

    Returns:
        A :class:`~schedlab.lab.sweeps.compare.Comparison`: ``.ranking`` (best first),
        ``.runs``, ``.report(folder)``, ``.save_ranking(folder)``, ``.engine``.
    """
    setup = _setup(
        model, train, val, loss=loss, optimizer=optimizer, metrics=metrics, epochs=epochs,
        batch_size=batch_size, unit=unit, engine=engine, workers=workers,
        model_name=model_name, data_name=data_name, builtin=builtin,
    )  # fmt: skip
    kwargs = dict(
        store=store, name=name, baseline=baseline, metric=metric, target=target, tests=tests,
        sesoi=sesoi, device=device,
        group_size=group_size, data_root=data_root, backend=_backend(backend), trackers=trackers,
    )  # fmt: skip
    specs, seed_list = parse_schedules(schedules), parse_seeds(seeds)
    if not progress:
        return run_comparison(setup, specs, seed_list, **kwargs)
    from schedlab.lab.sweeps.progress import progress as show

    with show(name or str(setup.to_dict()["model"])) as update:
        return run_comparison(setup, specs, seed_list, progress=update, **kwargs)


def _setup(
    model: Any,
    train: Any,
    val: Any,
    *,
    loss: Any,
    optimizer: Any,
    metrics: Any,
    epochs: int,
    batch_size: int,
    unit: str,
    engine: str,
    workers: int | None,
    model_name: str | None,
    data_name: str | None,
    builtin: Mapping[str, Any],
) -> Any:
    """A :class:`TrainConfig` for a built-in model name, else the user's :class:`UserTask`."""
    if isinstance(model, str):
        if model not in MODELS:
            raise ConfigError(
                f"model must be a factory returning a torch.nn.Module or one of "
                f"{', '.join(MODELS)}; got {model!r}"
            )
        if not isinstance(train, str) or val is not None:
            raise ConfigError(
                f"built-in model {model!r}: give train as a dataset name (e.g. 'mnist') and no "
                "val (the split comes from val_fraction)"
            )
        builtin = {"train_size": default_train_size(train), **builtin}
        if train == "linreg" and loss == "cross_entropy":  # the regression task's own loss
            loss = "mse"
        return TrainConfig(
            dataset=train, model=model, optimizer=optimizer or "sgd",
            loss=loss, epochs=epochs, batch_size=batch_size, unit=unit, **builtin,
        )  # fmt: skip
    if builtin:
        raise ConfigError(
            f"compare: unknown arguments {', '.join(sorted(builtin))} for the user's model "
            "(they apply to built-in models only)"
        )
    if train is None or val is None:
        raise ConfigError("compare: give both train and val data for the user's model")
    import torch

    from schedlab.lab.train.task import UserTask

    return UserTask.build(
        model, train, val, loss=loss, optimizer=optimizer or torch.optim.SGD, metrics=metrics,
        epochs=epochs, batch_size=batch_size, unit=unit, engine=engine, workers=workers,
        model_name=model_name, data_name=data_name,
    )  # fmt: skip
