"""The search's state in Optuna: one study per family, its sampler and its pruner.

Each family is an Optuna study named ``<search>/<family>`` in an RDB storage (SQLite beside the
run store by default, ``<store>.optuna.sqlite``; any SQLAlchemy URL works, e.g. PostgreSQL), used
through ask-and-tell: a *trial* is one candidate (its free parameters, asked from the sampler),
``trial.report(score, step=b_r)`` its score at each rung, ``should_prune()`` the pruner's
verdict, and ``tell`` the end (``PRUNED``, or ``COMPLETE`` with the score over every seed at the
full budget).  The study survives a kill: a rerun finds the trials and their verdicts and goes on.
``optuna.load_study(study_name=..., storage=...)`` opens it (optuna-dashboard shows it).

Samplers: ``qmc`` (default; Optuna's ``QMCSampler``, a scrambled Halton sequence, seeded: the
candidates spread evenly over the (log) range, and every family gets the same points), ``tpe``,
``random``, ``grid`` (evenly spaced values of each free parameter, as many as the candidates: ``n**(1/k)`` per parameter for ``k`` of them).

Pruners:

- ``halving`` (default): synchronous successive halving,
  :class:`~schedlab.lab.searches.pruner.RungPruner` -- at a rung every
  candidate of the bracket has reported before any verdict, and the best ``max(1, n // eta)`` go
  on (ties by trial number), so the verdicts do not depend on the order they are asked in;
- ``asha``: Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving: a candidate
  goes on when it is in the top ``1/eta`` of those that reached the rung *before it*; asked in
  trial order after the whole rung has reported, it keeps more candidates than ``halving``);
- ``none``: no early stopping (``NopPruner``), every candidate trained to the end: a grid.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.searches.rungs import BRACKET

__all__ = ["BRACKET", "PRUNERS", "SAMPLERS", "make_pruner", "make_sampler", "open_study"]

SAMPLERS: tuple[str, ...] = ("qmc", "tpe", "random", "grid")
PRUNERS: tuple[str, ...] = ("halving", "asha", "none")


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("search needs Optuna: pip install 'schedlab[search]'") from None
    return optuna


@contextlib.contextmanager
def quiet() -> Iterator[Any]:
    """Optuna with its per-trial log lines and experimental-feature warnings silenced (restored
    afterwards)."""
    optuna = _optuna()
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield optuna
    finally:
        optuna.logging.set_verbosity(level)


def storage_url(store: str | Path, storage: str | None = None) -> str:
    """The study storage: ``storage`` as given (an SQLAlchemy URL, or a file path for SQLite),
    or ``sqlite:///<store without .sqlite>.optuna.sqlite`` (an absolute path)."""
    if storage:
        return storage if "://" in storage else f"sqlite:///{Path(storage).resolve()}"
    path = Path(store)
    stem = path.name[: -len(".sqlite")] if path.name.endswith(".sqlite") else path.name
    return f"sqlite:///{(path.parent / f'{stem}.optuna.sqlite').resolve()}"


def _rdb(url: str) -> Any:
    optuna = _optuna()
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 60}}
    else:
        kwargs = {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as err:  # a bad URL, a missing driver, an unreachable server
        raise ConfigError(f"storage: cannot open {url!r}: {type(err).__name__}: {err}") from None


def make_pruner(name: str, eta: int, first_rung: int) -> Any:
    """The pruner called ``name`` (see :data:`PRUNERS`)."""
    optuna = _optuna()
    if name == "halving":
        from schedlab.lab.searches.pruner import RungPruner

        return RungPruner(eta)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=first_rung, reduction_factor=eta, min_early_stopping_rate=0
        )
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"pruner must be one of {', '.join(PRUNERS)}; got {name!r}")


def make_sampler(name: str, seed: int, grid: Mapping[str, Sequence[Any]] | None = None) -> Any:
    """The sampler called ``name`` (see :data:`SAMPLERS`), seeded."""
    optuna = _optuna()
    if name == "qmc":
        return optuna.samplers.QMCSampler(
            qmc_type="halton", scramble=True, seed=seed, warn_independent_sampling=False
        )
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":

        class AskTellGrid(optuna.samplers.GridSampler):
            """Optuna's grid sampler without its ``study.stop()`` once the grid is used up
            (meant for ``study.optimize``; the search asks exactly as many as it needs)."""

            def after_trial(self, *args: Any, **kwargs: Any) -> None:
                return None

        return AskTellGrid(dict(grid or {}), seed=seed)
    raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}; got {name!r}")


def open_study(
    url: str, name: str, *, maximize: bool, sampler: Any, pruner: Any, fingerprint: str
) -> Any:
    """Create study ``name`` in ``url``, or load it when it exists: then it must have been made
    by the same search settings (``fingerprint``), or :class:`ConfigError` says so."""
    optuna = _optuna()
    storage = _rdb(url)
    study = optuna.create_study(
        storage=storage, study_name=name, sampler=sampler, pruner=pruner,
        direction="maximize" if maximize else "minimize", load_if_exists=True,
    )  # fmt: skip
    found = study.user_attrs.get("schedlab")
    if found is None:
        study.set_user_attr("schedlab", fingerprint)
    elif found != fingerprint:
        raise ConfigError(
            f"storage: study {name!r} in {url!r} was made by other search settings; give the "
            "search another --name (or the same settings)"
        )
    return study


def trial_handle(study: Any, frozen: Any) -> Any:
    """A live ``optuna.trial.Trial`` for a stored, still running trial (to report and ask the
    pruner again after a restart, as ask-and-tell does within one process)."""
    optuna = _optuna()
    return optuna.trial.Trial(study, frozen._trial_id)
