"""Where a sweep's groups train: ``local`` (in this process, the default) or ``ray`` (a Ray cluster).

A backend trains the groups of runs that :func:`schedlab.lab.sweep.run_sweep` hands it and sends
every finished epoch to the sweep's :class:`~schedlab.lab.tracking.Recorder` in *this* process,
so the run store keeps a single writer whatever runs the training.  Ray is imported only when the
``ray`` backend is chosen.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from schedlab.lab.config import TrainConfig
    from schedlab.lab.tracking import Recorder

BACKENDS: tuple[str, ...] = ("local", "ray")


class SweepBackend(Protocol):
    """Trains groups of stored runs and records their epochs through ``recorder``."""

    def train(
        self,
        recorder: Recorder,
        config: TrainConfig,
        dataset: Any,
        groups: Mapping[int, Sequence[int]],
        group_size: int,
        device: str,
    ) -> Iterator[int]:
        """Train every run of ``groups`` (start epoch -> run ids, see
        :func:`schedlab.lab.sweep.pending_groups`) to the end, at most ``group_size`` runs per
        batched trainer; yield the number of member-epochs after each committed group epoch."""
        ...


def make_backend(
    name: str, *, address: str | None = None, workers: int | None = None
) -> SweepBackend | None:
    """The backend called ``name`` (``None`` for ``local``: run_sweep trains in process).

    ``address`` and ``workers`` apply to ``ray`` only (see
    :class:`schedlab.lab.backends.ray_backend.RayBackend`).
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name == "local":
        if address is not None or workers is not None:
            raise ValueError(
                "backend 'local' takes no --address or --ray-workers; add --backend ray to use them"
            )
        return None
    from schedlab.lab.backends.ray_backend import RayBackend

    return RayBackend(address, workers=workers)
