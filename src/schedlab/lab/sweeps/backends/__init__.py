"""Where a sweep's groups train: ``local`` (in this process, the default) or ``ray`` (a cluster).

Ray is imported only when the ``ray`` backend is chosen.
"""

from __future__ import annotations

from schedlab.errors import ConfigError
from schedlab.lab.sweeps.backends.base import SweepBackend
from schedlab.lab.sweeps.backends.local import LocalBackend

BACKENDS: tuple[str, ...] = ("local", "ray")

__all__ = ["BACKENDS", "LocalBackend", "SweepBackend", "make_backend"]


def make_backend(
    name: str, *, address: str | None = None, workers: int | None = None
) -> SweepBackend:
    """The backend called ``name``; ``address`` and ``workers`` apply to ``ray`` only (see
    :class:`schedlab.lab.sweeps.backends.ray.RayBackend`)."""
    if name not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name == "local":
        if address is not None or workers is not None:
            raise ConfigError(
                "backend 'local' takes no --address or --ray-workers; add --backend ray to use them"
            )
        return LocalBackend()
    from schedlab.lab.sweeps.backends.ray import RayBackend

    return RayBackend(address, workers=workers)
