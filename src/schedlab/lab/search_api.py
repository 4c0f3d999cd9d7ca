"""The search in one call: :func:`search` finds the schedule on the user's model (or a built-in).

>>> from schedlab.lab import search
>>> result = search(                                             # doctest: +SKIP
...     model=lambda: MyNet(), train=(x_train, y_train), val=(x_val, y_val),
...     optimizer=(torch.optim.AdamW, {"weight_decay": 0.05}), epochs=9, batch_size=128,
...     families={"cos": "cosine(lr=?, steps=E)", "wsd": "wsd(lr=?, steps=E, decay_steps=0.2*E)"},
...     ranges={"lr": "loguniform(1e-4, 1e-1)"}, store="runs/mine.sqlite",
... )
>>> result.winner.spec, result.snippets()["pytorch"], result.report("out/")  # doctest: +SKIP

See docs/search.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.api import _setup
from schedlab.lab.runs.store import DEFAULT_STORE
from schedlab.lab.searches.contenders import contenders
from schedlab.lab.searches.search import SearchResult, run_search
from schedlab.lab.sweeps.settings import parse_seeds

__all__ = ["search"]


def search(
    model: Callable[[], Any] | str,
    train: Any = None,
    val: Any = None,
    *,
    families: Any = None,
    contenders: str | None = None,
    ranges: Mapping[str, Any] | None = None,
    loss: Any = "cross_entropy",
    optimizer: Any = None,
    metrics: Mapping[str, Callable] | None = None,
    seeds: int | Sequence[int] = 3,
    epochs: int = 9,
    batch_size: int = 64,
    unit: str = "epoch",
    store: str | os.PathLike = DEFAULT_STORE,
    name: str | None = None,
    device: str = "cpu",
    engine: str = "auto",
    workers: int | None = None,
    group_size: int = 16,
    metric: str | None = None,
    trials: int = 9,
    eta: int = 3,
    min_epochs: int = 1,
    rungs: Sequence[int] | None = None,
    brackets: int = 1,
    rung_seeds: int = 1,
    sampler: str = "qmc",
    pruner: str = "halving",
    sampler_seed: int = 0,
    storage: str | None = None,
    progress: bool = True,
    model_name: str | None = None,
    data_name: str | None = None,
    data_root: str | None = None,
    **builtin: Any,
) -> SearchResult:
    """Find the best member of each schedule family and the best family, by batched successive
    halving over (family x free parameters x seed), then every seed at the full budget.

    Args:
        model, train, val, loss, optimizer, metrics, epochs, batch_size, unit, engine, workers,
            model_name, data_name, builtin: as :func:`schedlab.lab.compare` (the user's model,
            or a built-in model name with a dataset name).
        families: templates with free parameters (``{"cos": "cosine(lr=?, steps=E)"}``, or a
            list of ``"label=TEMPLATE"``); ``contenders="modern"`` adds the ready-made ones
            (:mod:`schedlab.lab.searches.contenders`); ``ranges``: each free parameter's range
            (default for the peak rate ``lr``: ``loguniform(1e-4, 1)``).
        seeds: seeds of the final comparison (a count or a list); ``rung_seeds`` of them train
            each rung before it.
        trials, eta, min_epochs, rungs, brackets: candidates per family, the halving factor, the
            first rung's budget, explicit rung budgets (epochs), Hyperband brackets.
        sampler, sampler_seed, pruner, storage: ``qmc``/``tpe``/``random``/``grid``;
            ``halving``/``asha``/``none``; the Optuna storage (default
            ``<store>.optuna.sqlite``).
        store, name, device, group_size, metric, data_root, progress: as ``compare``.

    Returns:
        A :class:`~schedlab.lab.searches.search.SearchResult`: ``.winner`` (family, tuned
        parameters, spec), ``.families``, ``.ranking`` (the finalists over every seed),
        ``.snippets()``, ``.report(folder)``, ``.save(folder)``, ``.member_epochs``.
    """
    chosen = _families(families, contenders)
    setup = _setup(
        model, train, val, loss=loss, optimizer=optimizer, metrics=metrics, epochs=epochs,
        batch_size=batch_size, unit=unit, engine=engine, workers=workers,
        model_name=model_name, data_name=data_name, builtin=builtin,
    )  # fmt: skip
    kwargs = dict(
        ranges=ranges, store=store, name=name, metric=metric, trials=trials, eta=eta, min_epochs=min_epochs,
        rungs=rungs, brackets_count=brackets, rung_seeds=rung_seeds, sampler=sampler,
        pruner=pruner, sampler_seed=sampler_seed, storage=storage, device=device,
        group_size=group_size, data_root=data_root,
    )  # fmt: skip
    seed_list = parse_seeds(seeds)
    if not progress:
        return run_search(setup, chosen, seed_list, **kwargs)
    from schedlab.lab.sweeps.progress import progress as show

    with show(name or "search") as update:
        return run_search(setup, chosen, seed_list, progress=update, **kwargs)


def _families(families: Any, named: str | None) -> Any:
    """The families to search: the given ones, then the contender set's (labels unique)."""
    if families is None and named is None:
        raise ConfigError(
            "search: give families (templates like cosine(lr=?, steps=E)) or contenders='modern'"
        )
    if named is None:
        return families
    extra = contenders(named)
    if families is None:
        return extra
    if isinstance(families, Mapping):
        return {**extra, **families}
    if isinstance(families, str):
        families = [families]
    return [*({k: v} for k, v in extra.items()), *families]
