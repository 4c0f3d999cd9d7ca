"""Reproductions of source experiments: one recipe each, run as schedlab sweeps, claims judged.

``schedlab reproduce NAME`` runs one (see docs/experiments.md).  In Python::

    from schedlab.lab.experiments import get_experiment, run_experiment
    from schedlab.lab.runs.store import RunStore

    exp = get_experiment("mnist-five")
    with RunStore("runs/experiments.sqlite") as store:
        outcome = run_experiment(store, exp, exp.variant(quick=True))
    [(v.claim, v.verdict) for v in outcome.verdicts]
"""

from schedlab.lab.experiments.claims import VERDICTS, Verdict
from schedlab.lab.experiments.definitions import EXPERIMENTS, get_experiment
from schedlab.lab.experiments.runner import ExperimentOutcome, run_experiment
from schedlab.lab.experiments.spec import Experiment, Variant

__all__ = [
    "EXPERIMENTS", "VERDICTS", "Experiment", "ExperimentOutcome", "Variant", "Verdict",
    "get_experiment", "run_experiment",
]  # fmt: skip
