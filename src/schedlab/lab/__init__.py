"""schedlab.lab: real training to compare schedules (datasets, trainer, run store, sweeps).

Importing this package loads numpy only; frameworks (torch, ray, ...) are imported by the modules
that need them. Datasets: :func:`load_dataset` returns a :class:`Dataset` for each name in
:data:`DATASETS`.
"""

from schedlab.lab.datasets import DATASETS, Dataset, load_dataset
from schedlab.lab.errors import CorruptDatasetError, DatasetNotFoundError

__all__ = ["DATASETS", "CorruptDatasetError", "Dataset", "DatasetNotFoundError", "load_dataset"]
