"""Which unit a schedule's step counts, checked where an adapter is built.

A schedule written in epochs (``step(lr=0.1, step_size=30)`` meaning "every 30 epochs") must not be
fed optimizer iterations, and the reverse.  Adapters take ``unit`` (what the schedule's ``t``
counts) and ``steps_per_epoch`` (the conversion factor, needed only when the adapter's own counter
counts the other unit).
"""

from __future__ import annotations

from typing import Any, Literal

from schedlab.errors import ConfigError
from schedlab.validate import is_int

Unit = Literal["step", "epoch"]
UNITS: tuple[str, ...] = ("step", "epoch")


def check_unit(owner: str, unit: Any, steps_per_epoch: Any, counter: Unit) -> int | None:
    """Validate ``unit`` and ``steps_per_epoch`` for an adapter whose counter advances in ``counter``.

    Returns ``steps_per_epoch`` when the schedule's unit differs from ``counter`` (it is then
    required), ``None`` otherwise (it must then be left out, so that a forgotten ``unit="epoch"``
    is an error rather than a schedule that runs ``steps_per_epoch`` times too fast).
    """
    if unit not in UNITS:
        raise ConfigError(f"{owner}: unit must be one of 'step', 'epoch', got {unit!r}")
    other: Unit = "epoch" if counter == "step" else "step"
    if unit == counter:
        if steps_per_epoch is not None:
            raise ConfigError(
                f"{owner}: steps_per_epoch is only used with unit={other!r} (a schedule written in "
                f"{other}s), got steps_per_epoch={steps_per_epoch!r} with unit={unit!r}"
            )
        return None
    if not is_int(steps_per_epoch) or steps_per_epoch <= 0:
        raise ConfigError(
            f"{owner}: steps_per_epoch must be a positive integer with unit={unit!r} "
            f"(the schedule counts {unit}s, this adapter counts {counter}s), got {steps_per_epoch!r}"
        )
    return int(steps_per_epoch)
