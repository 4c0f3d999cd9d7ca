"""What a sweep report says in words: pitfall warnings per schedule and the recommendation.

Pure functions of the store's rows and a :class:`~schedlab.lab.analysis.stats.Ranking`; no HTML here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schedlab.lab.analysis.stats import Ranking, ScheduleResult
from schedlab.lab.runs.rows import RunRow
from schedlab.report import format as fmt
from schedlab.schedules.checks import OPTIMIZERS as CHECKED_OPTIMIZERS
from schedlab.schedules.checks import Finding, RunContext, check

METRIC_NAMES = {
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "train_loss": "training loss",
}


@dataclass(frozen=True)
class ReportWarning:
    """One warning of the report: the schedule ``label``, an ``id`` (``diverged``,
    ``overfitting`` or a pitfall id ``SL00x``), a ``message`` and an optional ``fix`` spec."""

    label: str
    id: str
    message: str
    fix: str | None = None


def steps_per_epoch(run: RunRow, step_lrs_length: int) -> int | None:
    """Optimizer steps per epoch of a stored run: its logged per-step rates over its epochs."""
    done = run.epochs_done
    return step_lrs_length // done if done and step_lrs_length >= done else None


def _known_optimizer(name: Any) -> str | None:
    """The optimizer's name where the pitfall checks know it (``AdamW`` -> ``adamw``), else
    ``None`` (a user's own optimizer class: the optimizer-specific checks are skipped)."""
    text = str(name).lower() if name is not None else None
    return text if text in CHECKED_OPTIMIZERS else None


def run_context(config: Mapping[str, Any], spe: int | None) -> RunContext:
    """The pitfall-check context of a sweep's training config (a ``TrainConfig.to_dict()``).

    With ``unit="epoch"`` the schedule's run length is ``epochs``; with ``unit="step"`` it is
    ``epochs * steps_per_epoch``.
    """
    epochs = int(config["epochs"])
    unit = config.get("unit", "epoch")
    per_step = unit == "step" and bool(spe)
    return RunContext(
        steps=epochs * spe if per_step else epochs,
        steps_per_epoch=spe,
        optimizer=_known_optimizer(config.get("optimizer")),
        batch_size=config.get("batch_size"),
        model=config.get("model"),
        unit=unit if unit == "epoch" or per_step else None,  # steps unknown: counted as epochs
    )


def pitfalls(schedule: str, context: RunContext) -> list[Finding]:
    """Pitfall findings of one stored schedule (none for adaptive plateau specs, which are not
    schedules of the step)."""
    if schedule.lstrip().startswith("plateau("):
        return []
    return check(schedule, context)


def warnings_for(result: ScheduleResult, findings: Sequence[Finding]) -> list[ReportWarning]:
    """Run-level flags (diverged, overfitting) and pitfall findings of one schedule."""
    n = len(result.seeds)
    out = []
    if result.diverged:
        out.append(
            ReportWarning(
                result.label,
                "diverged",
                f"diverged in {result.diverged} of {n} seeds (a NaN/inf loss): the peak rate is "
                "too high for this model; lower it or add a warmup (schedlab find-lr helps).",
            )
        )
    if result.overfitting:
        out.append(
            ReportWarning(
                result.label,
                "overfitting",
                f"overfitting in {result.overfitting} of {n} seeds: the validation loss rises over "
                "the last epochs while the training loss falls; train fewer epochs, decay earlier "
                "or regularise.",
            )
        )
    out.extend(
        ReportWarning(result.label, f.id, f"{f.title}: {f.message}", f.fix) for f in findings
    )
    return out


def _fmt(x: float) -> str:
    return fmt.number(x)


def _ci(est: Any) -> str:
    if est.n < 2 or math.isnan(est.low):
        return f"{_fmt(est.mean)} (1 seed, no interval)"
    return f"{fmt.interval(est)} (95% CI, {est.n} seeds)"


def _overlap(a: ScheduleResult, b: ScheduleResult) -> bool:
    if a.final.n < 2 or b.final.n < 2 or math.isnan(a.final.low) or math.isnan(b.final.low):
        return True
    return a.final.low <= b.final.high and b.final.low <= a.final.high


def recommendation(ranking: Ranking, findings: Mapping[str, Sequence[Finding]]) -> list[str]:
    """The plain-language recommendation, as a few sentences (paragraph list)."""
    metric = METRIC_NAMES.get(ranking.metric, ranking.metric)
    rows = [r for r in ranking.rows if not r.diverged and not math.isnan(r.final.mean)]
    if not ranking.rows:
        return ["No run of this sweep has finished yet, so there is nothing to recommend."]
    if not rows:
        return [
            "Every schedule diverged or has no finite result: the rates are too high for this "
            "model. Run `schedlab find-lr` and start again from its suggestion."
        ]
    best = rows[0]
    out = [f"Use **{best.label}** (`{best.schedule}`): final {metric} {_ci(best.final)}."]
    if len(rows) > 1:
        second = rows[1]
        if _overlap(best, second):
            out.append(
                f"It is not clearly better than **{second.label}** ({_fmt(second.final.mean)}): "
                "their 95% intervals overlap, so on this evidence either is a sound choice; more "
                "seeds would separate them."
            )
        else:
            out.append(
                f"It beats the runner-up **{second.label}** ({_fmt(second.final.mean)}) clearly: "
                "their 95% intervals do not overlap."
            )
    vs = best.vs_baseline
    if ranking.baseline == best.label:
        out.append("It is the baseline itself: no other schedule beat it.")
    elif vs is not None and vs.n >= 2 and not math.isnan(vs.p_value):
        gain = "gains" if (vs.mean_diff > 0) == ranking.higher_is_better else "loses"
        verdict = "a significant difference" if vs.p_value < 0.05 else "not significant"
        out.append(
            f"Against the baseline **{vs.baseline}** it {gain} {abs(vs.mean_diff):.3g} in {metric} "
            f"(paired over {vs.n} seeds, p = {fmt.p_value(vs.p_value)}: {verdict})."
        )
    if best.overfitting:
        out.append(
            "Its validation loss rises at the end of training: stop earlier or decay sooner."
        )
    ids = sorted({f.id for f in findings.get(best.label, ())})
    if ids:
        out.append(f"See the warnings for it below ({', '.join(ids)}) before using it as is.")
    diverged = [r.label for r in ranking.rows if r.diverged]
    if diverged:
        out.append(f"Diverged, avoid at these rates: {', '.join(diverged)}.")
    return out
