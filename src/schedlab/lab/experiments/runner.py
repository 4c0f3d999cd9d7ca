"""Run an experiment: its stages' sweeps into a run store (resumable), then judge its claims."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schedlab.lab.analysis.stats import Ranking, ScheduleResult
from schedlab.lab.experiments.claims import Verdict, judge_all, resolve
from schedlab.lab.experiments.results import Results, ranking
from schedlab.lab.experiments.spec import Experiment, SweepDef, Variant
from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import SweepPlan, make_plan, run_sweep

#: called with (sweep name, member-epochs done, member-epochs to do).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExperimentOutcome:
    """What a reproduction produced: its sweeps (in order), the chosen schedules (``context``),
    the experiment-wide ranking, the verdict of every claim."""

    experiment: Experiment
    variant: Variant
    plans: tuple[SweepPlan, ...]
    context: dict[str, Any]
    baseline: str
    ranking: Ranking
    verdicts: tuple[Verdict, ...]
    results: Results = field(repr=False)

    @property
    def rows(self) -> tuple[ScheduleResult, ...]:
        """The ranking's rows, best first."""
        return self.ranking.rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary (NaN kept as float NaN)."""
        from dataclasses import asdict

        return {
            "experiment": self.experiment.name,
            "title": self.experiment.title,
            "variant": asdict(self.variant),
            "sweeps": [p.name for p in self.plans],
            "context": self.context,
            "baseline": self.baseline,
            "design": asdict(self.experiment.design),
            "ranking": self.ranking.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "differences": list(self.experiment.differences),
            "untested": [{"claim": c, "why": w} for c, w in self.experiment.untested],
        }


def plans_for(experiment: Experiment, variant: Variant, sweeps: list[SweepDef]) -> list[SweepPlan]:
    """Sweep plans of ``sweeps`` with their experiment-scoped names."""
    return [
        make_plan(s.config, list(s.schedules), s.seeds(variant), s.name(experiment.name, variant))
        for s in sweeps
    ]


def run_experiment(
    store: RunStore,
    experiment: Experiment,
    variant: Variant,
    *,
    device: str = "cpu",
    group_size: int = 32,
    data_root: str | None = None,
    progress: Progress | None = None,
) -> ExperimentOutcome:
    """Train (or resume) every stage of ``experiment`` at scale ``variant``, then rank all its
    schedules by final validation accuracy and judge its claims.  Finished runs are never
    trained again, so rerunning only computes what is missing."""
    context: dict[str, Any] = {}
    plans: list[SweepPlan] = []
    for stage in experiment.stages:
        stage_plans = plans_for(experiment, variant, stage.sweeps(variant, context))
        for plan in stage_plans:

            def report(done: int, total: int, name: str = plan.name) -> None:
                if progress:
                    progress(name, done, total)

            run_sweep(store, plan, device=device, group_size=group_size, data_root=data_root,
                      progress=report)  # fmt: skip
        plans.extend(stage_plans)
        if stage.select is not None:
            context.update(stage.select(Results.load(store, [p.name for p in plans]), context))
    results = Results.load(store, [p.name for p in plans], rates=True)
    baseline = resolve(experiment.baseline, context)
    ranked = ranking(results, "val_acc", baseline)
    scale = variant.epochs / experiment.full[0]
    verdicts = judge_all(experiment.claims, results, context, experiment.design, scale)
    return ExperimentOutcome(
        experiment, variant, tuple(plans), context, baseline, ranked, tuple(verdicts), results
    )
