"""Find the files of a dataset: the data roots searched, in order, and the layouts inside each.

Roots, first match wins: an explicit ``root``; every folder in ``$SCHEDLAB_DATA`` (``os.pathsep``
separated); schedlab's download cache (``$XDG_CACHE_HOME/schedlab`` or ``~/.cache/schedlab``);
``./data`` (torchvision tutorials' ``root="data"``); Keras' cache (``$KERAS_HOME/datasets`` or
``~/.keras/datasets``); ``../shared/data`` from the working directory; ``../shared/data`` from the
repository that holds this package (a fresh clone with ``shared/`` beside it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schedlab.lab.data.catalog import Layout, Source

ENV_DATA = "SCHEDLAB_DATA"
_REPO = Path(__file__).resolve().parents[4]  # src/schedlab/lab/data/locate.py -> repository root


def cache_root() -> Path:
    """schedlab's default download folder: ``$XDG_CACHE_HOME/schedlab`` or ``~/.cache/schedlab``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "schedlab"


def env_roots() -> list[Path]:
    """The folders listed in ``$SCHEDLAB_DATA`` (``os.pathsep`` separated), in order."""
    return [Path(p) for p in os.environ.get(ENV_DATA, "").split(os.pathsep) if p.strip()]


def search_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """Every data root searched for ``root``, in order, absolute and without repeats."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    roots = [
        *([Path(root)] if root is not None else []),
        *env_roots(),
        cache_root(),
        Path.cwd() / "data",
        Path(keras_home) / "datasets",
        Path.cwd().parent / "shared" / "data",
        _REPO.parent / "shared" / "data",
    ]
    return _unique(Path(os.path.abspath(p.expanduser())) for p in roots)


def download_root(root: str | os.PathLike | None = None) -> Path:
    """Where missing files are downloaded: ``root``, else the first ``$SCHEDLAB_DATA`` folder,
    else :func:`cache_root`."""
    if root is not None:
        return Path(root).expanduser()
    return (env_roots() or [cache_root()])[0].expanduser()


@dataclass(frozen=True)
class Found:
    """A folder holding every file of one layout; ``paths`` maps each listed name to its file."""

    folder: Path
    layout: Layout
    paths: dict[str, Path]


def match(folder: Path, layout: Layout) -> tuple[dict[str, Path], list[str]]:
    """The files of ``layout`` present in ``folder`` and the names missing there.

    For a ``.gz`` name the uncompressed file is preferred when both exist (it reads faster).
    """
    paths: dict[str, Path] = {}
    missing: list[str] = []
    for name in layout.files:
        options = [name[:-3], name] if name.endswith(".gz") else [name]
        hit = next((folder / o for o in options if (folder / o).is_file()), None)
        if hit is None:
            missing.append(name)
        else:
            paths[name] = hit
    return paths, missing


def find(source: Source, roots: Sequence[Path]) -> tuple[Found | None, list[str]]:
    """The first complete layout of ``source`` under ``roots``, and a line per folder tried."""
    tried: list[str] = []
    for root in roots:
        for layout in source.layouts:
            folder = root / layout.folder if layout.folder else root
            paths, missing = match(folder, layout)
            if not missing:
                return Found(folder, layout, paths), tried
            state = "no such folder" if not folder.is_dir() else f"missing {', '.join(missing)}"
            tried.append(f"{folder}: {state}")
    return None, tried


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for p in paths:
        seen.setdefault(p, None)
    return list(seen)
