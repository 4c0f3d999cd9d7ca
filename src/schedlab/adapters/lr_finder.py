"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates", section 3.3).

Train for ``num_steps`` optimizer steps while the rate grows exponentially from ``start_lr`` to
``end_lr``: ``lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``.  The loss of each
batch (computed before that batch's update, as in fastai and ``torch-lr-finder``) is smoothed
exponentially, ``s_i = smooth * loss_i + (1 - smooth) * s_{i-1}``, and the test stops once
``s_i > diverge_factor * min(s_0..s_i)``.  Two rates are suggested: the *steepest descent* (most
negative slope of the smoothed loss against ``log lr``, ignoring ``skip_start`` first and
``skip_end`` last points) and *min-loss/10* (the rate at the smallest smoothed loss, divided by 10).
The model and optimizer are restored afterwards (``restore=True``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from schedlab.schedules import Schedule, cyclic, one_cycle


@dataclass(frozen=True)
class LRFinderResult:
    """What the range test measured.

    ``lrs``: rate of each step; ``raw_losses``/``losses``: the batch loss and its smoothed value at
    each step; ``diverged``: the test stopped early on divergence (or a non-finite loss);
    ``steepest``/``min_loss``: the suggested rates (``min_loss`` is already divided by 10).
    """

    lrs: np.ndarray
    raw_losses: np.ndarray
    losses: np.ndarray
    diverged: bool
    steepest: float
    min_loss: float

    @property
    def suggestions(self) -> dict[str, float]:
        """``{"steepest descent": ..., "min loss / 10": ...}``."""
        return {"steepest descent": self.steepest, "min loss / 10": self.min_loss}

    @property
    def max_lr(self) -> float:
        """Peak rate for a cyclical schedule: min-loss/10, capped at 3x the steepest descent rate
        (a noisy minimum far right of the steepest slope is not trusted)."""
        return float(min(self.min_loss, 3 * self.steepest))

    def one_cycle(self, steps: int) -> Schedule:
        """``one_cycle(max_lr=self.max_lr, steps=steps)``; ``steps`` in optimizer iterations."""
        return one_cycle(max_lr=_round(self.max_lr), steps=steps)

    def cyclic(self, step_size_up: int) -> Schedule:
        """Triangular CLR between ``max_lr / 4`` and ``max_lr`` (Smith: bounds a factor 3-4 apart);
        ``step_size_up`` in optimizer iterations (2-10 epochs' worth is Smith's advice)."""
        peak = _round(self.max_lr)
        return cyclic(min_lr=_round(peak / 4), max_lr=peak, step_size_up=step_size_up)


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def _check(name: str, ok: bool, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"find_lr: {name} must be {allowed}; got {value!r}")


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _batches(loader: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    """Endless (inputs, targets) pairs: the loader is restarted when it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise ValueError(
                    f"find_lr: loader must yield (inputs, targets) pairs; got {type(batch).__name__}"
                )
            yield batch[0], batch[1]
        if empty:
            raise ValueError("find_lr: loader must yield at least one batch; it yielded none")


def _to(x: Any, device: torch.device | None) -> Any:
    return x.to(device) if device is not None and hasattr(x, "to") else x


def find_lr(
    model: torch.nn.Module,
    loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_steps: int = 200,
    smooth: float = 0.05,
    diverge_factor: float = 4,
    *,
    skip_start: int = 10,
    skip_end: int = 5,
    device: str | torch.device | None = None,
    restore: bool = True,
) -> LRFinderResult:
    """Run the LR range test on a user's PyTorch ``model``, ``loader``, ``optimizer`` and loss.

    Args:
        loader: yields ``(inputs, targets)``; restarted when exhausted (``num_steps`` may exceed
            one epoch).
        start_lr, end_lr: first and last rate of the exponential ramp (``0 < start_lr < end_lr``).
        num_steps: optimizer steps of the ramp (>= 2); fewer are run if the loss diverges.
        smooth: weight of the newest loss in the exponential smoothing, in ``[0, 1)``;
            0 turns smoothing off (as in ``torch-lr-finder``).
        diverge_factor: stop when the smoothed loss exceeds this multiple of its minimum (> 1).
        skip_start, skip_end: points ignored at each end when looking for the steepest slope.
        device: where batches are moved (the model is not moved); ``None`` leaves them as they are.
        restore: put the model's and optimizer's state back afterwards.
    """
    _check("start_lr", _real(start_lr) and start_lr > 0, "a finite number > 0", start_lr)
    _check("end_lr", _real(end_lr) and end_lr > start_lr, "a finite number > start_lr", end_lr)
    _check(
        "num_steps",
        isinstance(num_steps, int) and not isinstance(num_steps, bool) and num_steps >= 2,
        "an integer >= 2",
        num_steps,
    )
    _check("smooth", _real(smooth) and 0 <= smooth < 1, "a number in [0, 1)", smooth)
    _check(
        "diverge_factor",
        _real(diverge_factor) and diverge_factor > 1,
        "a number > 1",
        diverge_factor,
    )
    for name, value in (("skip_start", skip_start), ("skip_end", skip_end)):
        _check(name, isinstance(value, int) and value >= 0, "an integer >= 0", value)

    dev = torch.device(device) if device is not None else None
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))
    lrs: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    diverged = False
    batches = _batches(loader)
    try:
        model.train()
        for i in range(num_steps):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = next(batches)
            optimizer.zero_grad()
            loss = loss_fn(model(_to(inputs, dev)), _to(targets, dev))
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            lrs.append(lr)
            raw.append(value)
            if not math.isfinite(value):
                diverged = True
                break
            fresh = i == 0 or smooth == 0
            smoothed.append(value if fresh else smooth * value + (1 - smooth) * smoothed[-1])
            if smoothed[-1] > diverge_factor * min(smoothed):
                diverged = True
                break
    finally:
        if restore:
            model.load_state_dict(saved[0])
            optimizer.load_state_dict(saved[1])
    n = len(smoothed)
    if n < 2:
        raise ValueError(
            f"find_lr: the loss diverged after {len(raw)} step(s) (loss {raw[-1]!r} at lr "
            f"{lrs[-1]:.3g}); lower start_lr"
        )
    curve = np.array(smoothed)
    rates = np.array(lrs[:n])
    return LRFinderResult(
        lrs=rates,
        raw_losses=np.array(raw[:n]),
        losses=curve,
        diverged=diverged,
        steepest=steepest_descent(rates, curve, skip_start, skip_end),
        min_loss=float(rates[int(np.argmin(curve))]) / 10,
    )


def steepest_descent(lrs: np.ndarray, losses: np.ndarray, skip_start: int, skip_end: int) -> float:
    """The rate where ``d loss / d log(lr)`` is most negative.

    Searched from point ``skip_start`` to the minimum of the loss (not past it: after the minimum
    the loss is diverging and its noise can fake a steep descent), and not in the last ``skip_end``
    points.  ``torch-lr-finder`` searches the whole trimmed curve; both agree whenever its answer
    lies left of the minimum, the usual case.  Fewer points are skipped on short curves.
    """
    n = len(losses)
    if n < skip_start + skip_end + 2:
        skip_start, skip_end = 0, 0
    stop = min(n - skip_end, int(np.argmin(losses)) + 1)
    if stop - skip_start < 2:
        stop = n - skip_end
    window = slice(skip_start, stop)
    x, y = np.log(lrs[window]), np.asarray(losses[window])
    return float(lrs[window][int(np.argmin(np.gradient(y, x)))])
