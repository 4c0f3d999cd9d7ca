"""schedlab.lab: real training to compare schedules.

Its rooms, each importing only the ones before it:

- :mod:`~schedlab.lab.data`: datasets (find, download, read, split);
- :mod:`~schedlab.lab.train`: the training config, models, batched trainer, optimizers, losses;
- :mod:`~schedlab.lab.runs`: the SQLite run store, live tracking, CSV/JSON export;
- :mod:`~schedlab.lab.analysis`: statistics over seeds and the ranking of schedules;
- :mod:`~schedlab.lab.sweeps`: plans, running and resuming them, backends (local, Ray), settings;
- :mod:`~schedlab.lab.searches`: schedule families searched with successive halving (Optuna);
- :mod:`~schedlab.lab.experiments`: the source experiments and their claims.

The public entry points: :func:`compare` (schedules on the user's own model, or a built-in one),
:func:`search` (find the schedule: families with free parameters, early stopping, see
:mod:`~schedlab.lab.searches`) and :func:`run_trials` (the user's own training function).  Importing this package loads numpy
only; frameworks (torch, ray, ...) are imported by the modules that need them, ``compare`` and
``run_trials`` when first used.  Datasets: :func:`load_dataset` returns a :class:`Dataset` for
each name in :data:`DATASETS`.
"""

from schedlab.errors import CorruptDatasetError, DatasetNotFoundError
from schedlab.lab.data.datasets import DATASETS, Dataset, load_dataset

__all__ = [
    "DATASETS",
    "CorruptDatasetError",
    "Dataset",
    "DatasetNotFoundError",
    "compare",
    "load_dataset",
    "run_trials",
    "search",
]


def __getattr__(name: str):  # the entry points import torch: load them when first used
    if name == "compare":
        from schedlab.lab.api import compare

        return compare
    if name == "search":
        from schedlab.lab.search_api import search

        return search
    if name == "run_trials":
        from schedlab.lab.sweeps.trials import run_trials

        return run_trials
    raise AttributeError(f"module 'schedlab.lab' has no attribute {name!r}")
