"""The sample order a seeded ``DataLoader(shuffle=True)`` yields, drawn without a DataLoader."""

from __future__ import annotations

import torch


def epoch_order(generator: torch.Generator, n: int) -> torch.Tensor:
    """The order of ``n`` samples in the next epoch of ``DataLoader(dataset, shuffle=True,
    generator=generator)`` (``num_workers=0``), advancing ``generator`` exactly as it does.

    Per epoch the loader's iterator takes one int64 from ``generator`` (its base seed), then
    ``RandomSampler`` yields ``randperm(n, generator)`` and, run to exhaustion, draws one more
    ``randperm(n, generator)`` of which it yields nothing.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)
    return order
