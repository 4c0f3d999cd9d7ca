"""The files the lab writes out of a run store (rankings, reports, exports, plots): their paths
checked before any work, their content written atomically.

An output *folder* may be missing (it is created, parents too, as ``mkdir -p``); it must not be a
file, nor lie under one, and its nearest existing parent must be writable.  An output *file* may
not be an existing folder, and its folder follows the same rules.  Each check raises one
:class:`~schedlab.errors.ConfigError` naming the option (``what``) and the path, so a command
fails at once instead of after training.  :func:`write_atomic` writes through a temporary file
in the same folder and a rename: a reader, or a crash, never sees a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from schedlab.errors import ConfigError

#: the process's umask, read once (by setting it and back: there is no getter), for the mode of
#: atomically written files (``mkstemp`` makes them private)
_UMASK = os.umask(0o022)
os.umask(_UMASK)

__all__ = [
    "check_output_file",
    "check_output_folder",
    "output_file",
    "output_folder",
    "write_atomic",
]


def check_output_folder(path: str | os.PathLike, what: str = "out") -> Path:
    """Check, without creating anything, that ``path`` is or can become a writable folder: not a
    file, and its nearest existing parent a writable folder (:class:`ConfigError` naming
    ``what`` otherwise).  Call it before training, so a bad path fails at once."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what}: {str(folder)!r} is a file, not a folder")
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what}: cannot create {str(folder)!r}: {str(parent)!r} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: cannot create {str(folder)!r}: {str(parent)!r} is not writable")
    return folder


def output_folder(path: str | os.PathLike, what: str = "out") -> Path:
    """``path`` as a folder to write into, created if missing (see :func:`check_output_folder`)."""
    folder = check_output_folder(path, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{what}: cannot create the folder {str(folder)!r} ({err.strerror})"
        ) from None
    return folder


def check_output_file(path: str | os.PathLike, what: str = "out") -> Path:
    """Check, without creating anything, that ``path`` can be written as a file: not a folder,
    not read-only, and its folder one :func:`check_output_folder` accepts."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{what}: {str(file)!r} is a folder; give a file name")
    check_output_folder(file.parent, what)
    if file.exists() and not os.access(file, os.W_OK):
        raise ConfigError(f"{what}: {str(file)!r} is not writable")
    return file


def output_file(path: str | os.PathLike, what: str = "out") -> Path:
    """``path`` checked as by :func:`check_output_file`, its folder created if missing."""
    file = check_output_file(path, what)
    output_folder(file.parent, what)
    return file


def write_atomic(path: str | os.PathLike, content: str | bytes, what: str = "out") -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` through a temporary file in the same
    folder and a rename, so a reader (or a crash) never sees a half-written file.  An error of the
    operating system (a full disk, a folder that vanished) is a :class:`ConfigError` naming
    ``what`` and the path."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise ConfigError(f"{what}: cannot write {str(path)!r} ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{what}: cannot write {str(path)!r} ({err.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
