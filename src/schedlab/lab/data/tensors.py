"""The user's own data, as the lab reads it: ``(x, y)`` tensors or arrays, a torch ``Dataset``, or
a factory of batch iterables.

:func:`as_split` turns what the user passed into a :class:`Split`:

- ``(x, y)`` tensors or numpy arrays (floating arrays become float32, torch's default dtype;
  integer labels int64): the samples, in memory;
- a map-style ``torch.utils.data.Dataset`` (``__len__`` and ``__getitem__`` returning ``(x, y)``):
  read once into tensors, as the default ``DataLoader`` collate would stack them, when that is
  safe -- two reads of the same samples agree (no random transforms) -- and fits
  :data:`MATERIALIZE_LIMIT`; otherwise kept as a dataset (only the per-run engine reads it, through
  a ``DataLoader``);
- a callable ``loader(generator) -> iterable of (x, y) batches`` (a ``DataLoader`` factory): called
  once per run and epoch with that run's seeded ``torch.Generator``; per-run engine only.

A split's :meth:`~Split.fingerprint` (sizes, dtypes and a sha256 of the content) is part of every
run's identity, so changed data makes new runs instead of mixing with the old ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from schedlab.errors import DataError

#: a dataset is read into memory when its tensors would take at most this many bytes
MATERIALIZE_LIMIT = 2 * 1024**3
_PROBE = 4  # samples read twice to tell a deterministic dataset from one with random transforms


@dataclass(frozen=True, eq=False)
class Split:
    """One split of the user's data (train or validation).

    Exactly one of these holds it: ``x``/``y`` (tensors, one row per sample), ``dataset`` (a
    map-style torch dataset read through a ``DataLoader``) or ``loader`` (a batch-iterable factory).
    ``why_not_tensors`` says, for the last two, why the split is not in memory.
    """

    name: str
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    dataset: Any = None
    loader: Callable[[torch.Generator], Iterable[Any]] | None = None
    why_not_tensors: str = ""

    @property
    def in_memory(self) -> bool:
        """Whether the samples are tensors (what the stacked engine needs)."""
        return self.x is not None

    def __len__(self) -> int:
        if self.x is not None:
            return len(self.x)
        if self.dataset is not None:
            return len(self.dataset)
        raise DataError(f"{self.name}: a loader factory has no known number of samples")

    def sized(self) -> bool:
        """Whether the number of samples is known (not a loader factory)."""
        return self.loader is None

    def fingerprint(self) -> dict[str, Any]:
        """Sizes, dtypes and a sha256 of the content (in memory), or what identifies a dataset or
        loader that is not (its type and length)."""
        if self.x is not None and self.y is not None:
            digest = hashlib.sha256()
            for t in (self.x, self.y):
                digest.update(str((tuple(t.shape), str(t.dtype))).encode())
                digest.update(_bytes(t))
            return {
                "samples": len(self.x),
                "x": [list(self.x.shape[1:]), str(self.x.dtype).replace("torch.", "")],
                "y": [list(self.y.shape[1:]), str(self.y.dtype).replace("torch.", "")],
                "sha256": digest.hexdigest(),
            }
        source = self.dataset if self.dataset is not None else self.loader
        kind = type(source)
        out: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}"}
        if self.dataset is not None:
            out["samples"] = len(self.dataset)
        return out

    def sample_batch(self, n: int = 2) -> tuple[Any, Any]:
        """The first ``n`` samples as one ``(x, y)`` batch (for shape checks)."""
        if self.x is not None:
            return self.x[:n], self.y[:n]  # type: ignore[index]
        if self.dataset is not None:
            from torch.utils.data import default_collate

            return default_collate([self.dataset[i] for i in range(min(n, len(self.dataset)))])
        batch = next(iter(self.loader(torch.Generator().manual_seed(0))))  # type: ignore[misc]
        return batch[0][:n], batch[1][:n]


def _bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        if value.dtype.kind in "iub":
            return torch.from_numpy(np.ascontiguousarray(value, dtype=np.int64))
        raise DataError(f"{what}: numpy arrays must be numeric; got dtype {value.dtype}")
    raise DataError(f"{what}: expected a tensor or numpy array; got {type(value).__name__}")


def _materialize(dataset: Any, name: str) -> tuple[torch.Tensor, torch.Tensor] | str:
    """The dataset as stacked ``(x, y)`` tensors, or the reason it is not read into memory."""
    from torch.utils.data import default_collate

    n = len(dataset)
    if n == 0:
        raise DataError(f"{name}: the dataset is empty")
    probe = [dataset[i] for i in range(min(_PROBE, n))]
    again = [dataset[i] for i in range(min(_PROBE, n))]
    for a, b in zip(probe, again, strict=True):
        if not _same(a, b):
            return "it returns different samples on each read (random transforms)"
    first = default_collate(probe[:1])
    if not (isinstance(first, (list, tuple)) and len(first) == 2):
        raise DataError(
            f"{name}: dataset items must be (x, y) pairs; got {type(probe[0]).__name__}"
        )
    size = sum(t[0].numel() * t.element_size() for t in first if isinstance(t, torch.Tensor)) * n
    if size > MATERIALIZE_LIMIT:
        return f"it would take {size / 2**30:.1f} GiB in memory"
    xs, ys = default_collate([dataset[i] for i in range(n)])
    return _tensor(xs, name), _tensor(ys, name)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


def as_split(value: Any, name: str) -> Split:
    """What the user passed as ``train``/``val`` as a :class:`Split` (``DataError`` naming
    ``name`` and the accepted forms otherwise)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        x, y = (_tensor(v, f"{name}[{i}]") for i, v in enumerate(value))
        if len(x) != len(y):
            raise DataError(
                f"{name}: x and y must have one row per sample; got {len(x)} and {len(y)}"
            )
        if len(x) == 0:
            raise DataError(f"{name}: no samples")
        return Split(name, x=x, y=y)
    if hasattr(value, "__getitem__") and hasattr(value, "__len__"):
        got = _materialize(value, name)
        if isinstance(got, str):
            return Split(
                name, dataset=value, why_not_tensors=f"{name} is not read into memory: {got}"
            )
        return Split(name, x=got[0], y=got[1])
    if callable(value):
        return Split(name, loader=value, why_not_tensors=f"{name} is a loader factory")
    raise DataError(
        f"{name} must be (x, y) tensors or arrays, a torch Dataset, or a callable "
        f"loader(generator) -> batches; got {type(value).__name__}"
    )
