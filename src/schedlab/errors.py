"""The errors schedlab raises for input a user can fix: one family, a few kinds.

Every error here is a :class:`ValueError` (so ``except ValueError`` keeps working) and names the
parameter, key or path at fault, the allowed values and the value received.  The command line turns
exactly these into its one-line ``Error: ...`` and exit status 2; any other exception is a bug and
keeps its traceback.

- :class:`SpecError`: a schedule spec or a schedule/plateau parameter (layer 1, and the adapters'
  arguments that are schedule parameters).
- :class:`ConfigError`: a training or sweep setting, a config file, a command-line option, an
  adapter or framework argument, an output path.
- :class:`StoreError`: a run store (missing, damaged, newer schema, locked, unknown sweep or run).
- :class:`DataError`: a dataset (not found, damaged, failed download, shape that does not fit).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptDatasetError",
    "DataError",
    "DatasetNotFoundError",
    "DownloadError",
    "SchedlabError",
    "SpecError",
    "StoreError",
]


class SchedlabError(ValueError):
    """Base class: bad input that the user can fix (the CLI prints it as one line, exit 2)."""


class SpecError(SchedlabError):
    """A schedule spec or schedule parameter is invalid (unknown kind, bad value, bad text)."""


class ConfigError(SchedlabError):
    """A setting, option, config file, argument or output path is invalid."""


class StoreError(SchedlabError):
    """A run store cannot be used as asked (not a store, damaged, locked, unknown sweep)."""


class DataError(SchedlabError):
    """A dataset cannot be found, read or used as given."""


class DatasetNotFoundError(DataError):
    """The files of a dataset are in none of the folders searched (and could not be downloaded)."""


class CorruptDatasetError(DataError):
    """A dataset file exists but its content is not what the format requires."""


class DownloadError(DataError):
    """Every mirror failed for one file; ``attempts`` holds one ``"url: reason"`` line per try."""

    def __init__(self, name: str, attempts: list[str]):
        self.name = name
        self.attempts = attempts
        super().__init__(f"could not download {name}:\n  " + "\n  ".join(attempts))
