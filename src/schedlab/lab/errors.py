"""Errors raised while finding, downloading and reading dataset files."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are in none of the folders searched (and could not be downloaded)."""


class CorruptDatasetError(ValueError):
    """A dataset file exists but its content is not what the format requires."""


class DownloadError(OSError):
    """Every mirror failed for one file; ``attempts`` holds one ``"url: reason"`` line per try."""

    def __init__(self, name: str, attempts: list[str]):
        self.name = name
        self.attempts = attempts
        super().__init__(f"could not download {name}:\n  " + "\n  ".join(attempts))
