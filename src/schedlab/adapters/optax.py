"""optax / JAX adapter: a schedlab schedule as an optax schedule, and Plateau control.

:func:`to_optax` returns a callable ``count -> learning rate`` that optax calls with its step
counter (an int32 array, 0 for the first update).  It traces the schedule with ``jax.numpy``
(``Schedule.evaluate(t, jnp)``), so it runs inside ``jax.jit`` with no host callback.  Steps are
converted to JAX's default float type: float32, or float64 when ``jax_enable_x64`` is on.  float32
represents every integer step exactly up to 2**24 (16.7 M); past that, enable x64.

:func:`set_learning_rate` and :func:`update_on_plateau` drive an optimizer built with
``optax.inject_hyperparams`` from a :class:`schedlab.Plateau` between epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from schedlab.adapters.units import Unit, check_unit
from schedlab.schedules import Schedule, from_spec

__all__ = ["set_learning_rate", "to_optax", "update_on_plateau"]


def to_optax(
    schedule: Any, steps_per_epoch: int | None = None, unit: Unit = "step"
) -> Callable[[Any], jax.Array]:
    """An optax schedule (``count -> lr``) that evaluates ``schedule`` with ``jax.numpy``.

    Args:
        schedule: a :class:`~schedlab.Schedule` or anything :func:`schedlab.from_spec` accepts.
        steps_per_epoch: optimizer updates per epoch; required with ``unit="epoch"`` only.
        unit: what the schedule's ``t`` counts. ``"step"``: ``lr = schedule(count)``.
            ``"epoch"``: ``lr = schedule(count // steps_per_epoch)``, constant within an epoch.

    The returned function has no state and no validation (it is traced): optax never passes a
    negative count.

    >>> import optax, schedlab
    >>> sched = to_optax(schedlab.step(lr=1.0, step_size=2, gamma=0.5))
    >>> [float(sched(t)) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    >>> opt = optax.sgd(learning_rate=sched)
    """
    inner: Schedule = from_spec(schedule)
    per_epoch = check_unit("to_optax", unit, steps_per_epoch, counter="step")

    def learning_rate(count: Any) -> jax.Array:
        t = jnp.asarray(count)
        if per_epoch is not None:
            t = t // per_epoch
        return inner.evaluate(t.astype(jnp.result_type(float)), jnp)

    learning_rate.__doc__ = f"optax schedule for {inner!r} (unit={unit!r})."
    return learning_rate


def set_learning_rate(opt_state: Any, lr: float) -> Any:
    """A copy of ``opt_state`` whose injected ``learning_rate`` hyperparameter is ``lr``.

    ``opt_state`` comes from an optimizer built with ``optax.inject_hyperparams`` (anywhere in an
    ``optax.chain``).  The dtype of the stored rate is kept, so a jitted update does not retrace.
    """
    try:
        current = optax.tree_utils.tree_get(opt_state, "learning_rate")
    except KeyError:
        current = None
    if current is None:
        raise ValueError(
            "opt_state must hold an injected 'learning_rate' (build the optimizer with "
            "optax.inject_hyperparams(optax.sgd)(learning_rate=...)), got a state without one"
        )
    value = jnp.asarray(lr, dtype=jnp.asarray(current).dtype)
    return optax.tree_utils.tree_set(opt_state, learning_rate=value)


def update_on_plateau(plateau: Any, opt_state: Any, metric: float) -> Any:
    """Feed ``metric`` (e.g. the epoch's validation loss) to ``plateau`` and return ``opt_state``
    with the resulting rate injected.  Call it once per epoch, outside ``jax.jit``.

    ``plateau`` is a :class:`schedlab.Plateau` (PyTorch ``ReduceLROnPlateau`` semantics); build
    the optimizer with ``optax.inject_hyperparams(optax.sgd)(learning_rate=plateau.lr)``.
    """
    return set_learning_rate(opt_state, plateau.update(float(metric)))
