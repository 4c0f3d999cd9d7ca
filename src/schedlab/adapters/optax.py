"""optax / JAX adapter: a schedlab schedule as an optax schedule, and Plateau control.

:func:`to_optax` returns a callable ``count -> learning rate`` that optax calls with its step
counter (an int32 array, 0 for the first update).  It traces the schedule with ``jax.numpy``
(``Schedule.evaluate(t, jnp)``), so it runs inside ``jax.jit`` with no host callback.  Steps are
converted to JAX's default float type: float32, or float64 when ``jax_enable_x64`` is on.  float32
represents every integer step exactly up to 2**24 (16.7 M); past that, enable x64.

:func:`set_learning_rate` and :func:`update_on_plateau` drive an optimizer built with
``optax.inject_hyperparams`` from a :class:`schedlab.Plateau` between epochs.  The rate stays
constant within an epoch, so a plateau warmup counted in optimizer steps (``warmup_unit="step"``)
cannot run here and is refused; use ``warmup_unit="update"`` (one warmup step per epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from schedlab.adapters.units import Unit, check_unit
from schedlab.errors import ConfigError
from schedlab.schedules import Schedule, from_spec
from schedlab.schedules.plateau import Plateau

__all__ = ["OptaxSchedule", "set_learning_rate", "to_optax", "update_on_plateau"]


class OptaxSchedule:
    """An optax schedule (``count -> lr``) evaluating a schedlab schedule with ``jax.numpy``.

    Built by :func:`to_optax`; a plain callable that optax calls inside ``jit``, with a readable
    ``repr``.  It has no state and no validation (it is traced): optax never passes a negative
    count.
    """

    __slots__ = ("__weakref__", "schedule", "steps_per_epoch", "unit")  # jax.jit holds weakrefs

    def __init__(self, schedule: Schedule, steps_per_epoch: int | None, unit: str) -> None:
        self.schedule, self.steps_per_epoch, self.unit = schedule, steps_per_epoch, unit

    def __call__(self, count: Any) -> jax.Array:
        t = jnp.asarray(count)
        if self.steps_per_epoch is not None:
            t = t // self.steps_per_epoch
        return self.schedule.evaluate(t.astype(jnp.result_type(float)), jnp)

    def __repr__(self) -> str:
        extra = f", steps_per_epoch={self.steps_per_epoch!r}" if self.steps_per_epoch else ""
        return f"OptaxSchedule({self.schedule!r}, unit={self.unit!r}{extra})"


def to_optax(
    schedule: Any, steps_per_epoch: int | None = None, unit: Unit = "step"
) -> Callable[[Any], jax.Array]:
    """An optax schedule (``count -> lr``) that evaluates ``schedule`` with ``jax.numpy``.

    Args:
        schedule: a :class:`~schedlab.Schedule` or anything :func:`schedlab.from_spec` accepts.
        steps_per_epoch: optimizer updates per epoch; required with ``unit="epoch"`` only.
        unit: what the schedule's ``t`` counts. ``"step"``: ``lr = schedule(count)``.
            ``"epoch"``: ``lr = schedule(count // steps_per_epoch)``, constant within an epoch.

    The returned :class:`OptaxSchedule` has no state and no validation (it is traced): optax
    never passes a negative count.

    >>> import optax, schedlab
    >>> sched = to_optax(schedlab.step(lr=1.0, step_size=2, gamma=0.5))
    >>> [float(sched(t)) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    >>> sched
    OptaxSchedule(step(lr=1.0, step_size=2, gamma=0.5), unit='step')
    >>> opt = optax.sgd(learning_rate=sched)
    """
    inner: Schedule = from_spec(schedule)
    per_epoch = check_unit("to_optax", unit, steps_per_epoch, counter="step")
    return OptaxSchedule(inner, per_epoch, unit)


def set_learning_rate(opt_state: Any, lr: float) -> Any:
    """A copy of ``opt_state`` whose injected ``learning_rate`` hyperparameter is ``lr``.

    ``opt_state`` comes from an optimizer built with ``optax.inject_hyperparams`` (anywhere in an
    ``optax.chain``).  The dtype of a float rate is kept, so a jitted update does not retrace; a
    rate stored as an integer (``learning_rate=1``) would truncate every reduced rate to 0, so it
    becomes JAX's default float (one retrace).
    """
    try:
        current = optax.tree_utils.tree_get(opt_state, "learning_rate")
    except KeyError:
        current = None
    if current is None:
        raise ConfigError(
            "opt_state must hold an injected 'learning_rate' (build the optimizer with "
            "optax.inject_hyperparams(optax.sgd)(learning_rate=...)), got a state without one"
        )
    dtype = jnp.asarray(current).dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    value = jnp.asarray(lr, dtype=dtype)
    return optax.tree_utils.tree_set(opt_state, learning_rate=value)


def update_on_plateau(plateau: Plateau, opt_state: Any, metric: float) -> Any:
    """Feed ``metric`` (e.g. the epoch's validation loss) to ``plateau`` and return ``opt_state``
    with the resulting rate injected.  Call it once per epoch, outside ``jax.jit``.

    ``plateau`` is a :class:`schedlab.Plateau` object (PyTorch ``ReduceLROnPlateau`` semantics),
    kept between calls: its state is the plateau's memory.  A spec string is refused (build the
    object once with ``schedlab.policy_from_spec(spec)``), and so is a warmup counted in optimizer
    steps (``warmup_unit="step"``): the injected rate only changes between epochs.  Build the
    optimizer with ``optax.inject_hyperparams(optax.sgd)(learning_rate=plateau.lr)``.
    """
    if not isinstance(plateau, Plateau):
        raise ConfigError(
            "update_on_plateau: plateau must be a schedlab.Plateau object kept between calls (its "
            "state is the plateau's memory), got "
            f"{plateau!r}; build it once with schedlab.policy_from_spec(spec)"
        )
    spec = plateau.spec()
    if spec["warmup_unit"] == "step" and spec["warmup_steps"]:
        raise ConfigError(
            "update_on_plateau: plateau warmup_unit must be 'update' (one warmup step per "
            "update_on_plateau call): the injected rate changes only between epochs, so a warmup "
            f"counted in optimizer steps cannot run, got warmup_unit='step' ({plateau!r}); for a "
            "per-step ramp use warmup_unit='update' with the warmup in epochs"
        )
    return set_learning_rate(opt_state, plateau.update(metric))
