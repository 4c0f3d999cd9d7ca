"""schedlab.lab: real training to compare schedules.

Its rooms, each importing only the ones before it:

- :mod:`~schedlab.lab.data`: datasets (find, download, read, split);
- :mod:`~schedlab.lab.train`: the training config, models, batched trainer, optimizers, losses;
- :mod:`~schedlab.lab.runs`: the SQLite run store, live tracking, CSV/JSON export;
- :mod:`~schedlab.lab.analysis`: statistics over seeds and the ranking of schedules;
- :mod:`~schedlab.lab.sweeps`: plans, running and resuming them, backends (local, Ray), settings;
- :mod:`~schedlab.lab.experiments`: the source experiments and their claims.

Importing this package loads numpy only; frameworks (torch, ray, ...) are imported by the modules
that need them. Datasets: :func:`load_dataset` returns a :class:`Dataset` for each name in
:data:`DATASETS`.
"""

from schedlab.errors import CorruptDatasetError, DatasetNotFoundError
from schedlab.lab.data.datasets import DATASETS, Dataset, load_dataset

__all__ = ["DATASETS", "CorruptDatasetError", "Dataset", "DatasetNotFoundError", "load_dataset"]
