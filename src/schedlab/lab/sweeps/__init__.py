"""Sweeps: a plan of schedules x seeds, run (and resumed) into the run store by a backend.

- :mod:`~schedlab.lab.sweeps.plan`: labels, canonical schedule text, :class:`SweepPlan`.
- :mod:`~schedlab.lab.sweeps.run`: :func:`run_sweep` (lock, resume, progress).
- :mod:`~schedlab.lab.sweeps.groups`: the groups of runs that train together, and their loop.
- :mod:`~schedlab.lab.sweeps.backends`: where the groups train (local, Ray).
- :mod:`~schedlab.lab.sweeps.settings`: a comparison's settings from a config file and flags.
"""

from schedlab.lab.sweeps.plan import SweepPlan, canonical_schedule, make_plan, split_label
from schedlab.lab.sweeps.run import SweepOutcome, exclusive, run_sweep

__all__ = [
    "SweepOutcome",
    "SweepPlan",
    "canonical_schedule",
    "exclusive",
    "make_plan",
    "run_sweep",
    "split_label",
]
