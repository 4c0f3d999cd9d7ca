"""A schedule search from families to the winner: rungs of batched training, Optuna's verdicts,
the finalists compared over every seed.

What :func:`run_search` does (docs/search.md):

1. parses the families and their ranges (:mod:`~schedlab.lab.searches.families`), plans the rungs
   and brackets (:mod:`~schedlab.lab.searches.rungs`) and opens one Optuna study per family
   (:mod:`~schedlab.lab.searches.study`);
2. for each rung ``r`` (budget ``b_r`` epochs): asks the studies for the candidates of the
   brackets that start there; trains every live candidate of every family for ``b_r`` epochs with
   its family compressed to ``b_r`` (the equal-footing rule), ``rung_seeds`` seeds each, as the
   sweep ``<name>/rung<r>`` -- candidates that share their first epochs with their full-budget run
   fork from it (the sweep ``<name>/trunks<r>`` holds those trunks); reports each candidate's score
   (mean final metric over its seeds) to its study, and asks the pruner which go on;
3. at the last rung (the full budget) trains the survivors with *every* seed as the sweep
   ``<name>``: that is a comparison like ``schedlab compare``'s (ranking with 95% intervals, paired
   tests, report), whose best row is the winner, and each family's best row its tuned member.

Everything is in the run store (resume, ``schedlab runs``/``report``/``export``) and in the
studies' storage; rerunning the same call resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import Ranking, metric_direction, rank
from schedlab.lab.runs.files import output_folder, write_atomic
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import Recorder
from schedlab.lab.searches.contenders import DEFAULT_RANGES
from schedlab.lab.searches.families import Family, parse_families
from schedlab.lab.searches.rungs import Bracket, brackets, rung_epochs, shared_epochs, survivors
from schedlab.lab.searches.study import (
    BRACKET,
    PRUNERS,
    SAMPLERS,
    make_pruner,
    make_sampler,
    open_study,
    quiet,
    storage_url,
    trial_handle,
)
from schedlab.lab.searches.training import advance, fork
from schedlab.lab.sweeps.compare import Comparison, check_metric
from schedlab.lab.sweeps.plan import SweepPlan, make_plan
from schedlab.lab.sweeps.run import ProgressFn, SweepOutcome, exclusive
from schedlab.lab.train.setup import TrainSetup, load_data
from schedlab.validate import is_int


@dataclass(frozen=True)
class Candidate:
    """One candidate of a family (one Optuna trial): its free parameters, its score at each rung
    it reached (epochs -> mean final metric over the rung's seeds) and how it ended."""

    family: str
    trial: int
    bracket: int
    params: Mapping[str, Any]
    scores: Mapping[int, float]
    #: ``"pruned"`` (at the last rung in ``scores``), ``"finalist"`` or ``"running"``
    outcome: str
    #: the spec trained at the full budget (its identity in the store)
    spec: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family, "trial": self.trial, "bracket": self.bracket,
            "params": dict(self.params), "scores": {str(k): v for k, v in self.scores.items()},
            "outcome": self.outcome, "spec": self.spec,
        }  # fmt: skip


@dataclass(frozen=True)
class FamilyResult:
    """A family's outcome: its best finalist (``label`` in the final ranking, ``spec`` at the
    full budget, the tuned ``params``) and every candidate it tried."""

    label: str
    template: str
    best_label: str | None
    spec: str | None
    params: Mapping[str, Any]
    candidates: tuple[Candidate, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "template": self.template, "best_label": self.best_label,
            "spec": self.spec, "params": dict(self.params),
            "candidates": [c.to_dict() for c in self.candidates],
        }  # fmt: skip


@dataclass(frozen=True)
class Winner:
    """The schedule the search chose: the family, its tuned parameters and the spec (in the
    setup's ``unit``, for ``epochs`` epochs of ``steps_per_epoch`` optimizer steps)."""

    label: str
    family: str
    spec: str
    params: Mapping[str, Any]
    unit: str
    epochs: int
    steps_per_epoch: int

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "params": dict(self.params)}


@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`run_search`."""

    name: str
    storage: str
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    metric: str
    families: tuple[FamilyResult, ...]
    comparison: Comparison
    #: member-epochs the search's runs hold, forks not counted (what it cost to train, all calls)
    member_epochs: int
    #: what training every candidate with every seed for the whole run would cost
    full_member_epochs: int
    #: member-epochs trained by this call
    trained_now: int
    settings: Mapping[str, Any]

    @property
    def store(self) -> Path:
        return self.comparison.store

    @property
    def ranking(self) -> Ranking:
        """The finalists ranked over every seed at the full budget (best first)."""
        return self.comparison.ranking

    @property
    def winner(self) -> Winner | None:
        """The best finalist (``None`` if no finalist finished)."""
        if not self.ranking.rows:
            return None
        best = self.ranking.rows[0]
        for fam in self.families:
            for c in fam.candidates:
                if c.outcome == "finalist" and c.spec == best.schedule:
                    cfg = self.comparison.plan.config
                    return Winner(
                        best.label, fam.label, best.schedule, dict(c.params),
                        self.settings["unit"], cfg.epochs, int(self.settings["steps_per_epoch"]),
                    )  # fmt: skip
        return None

    def by_budget(self) -> dict[int, list[tuple[str, Mapping[str, Any], float]]]:
        """For each budget (epochs), each family's best candidate trained at that budget (its
        family compressed to it) as ``(family, params, score)``, best first: which schedule wins
        at 1/9, 1/3 and all of the budget (mean over the rung's seeds; every seed at the last)."""
        higher = metric_direction(self.metric)[1]
        out: dict[int, list[tuple[str, Mapping[str, Any], float]]] = {}
        for budget in self.budgets:
            rows = []
            for fam in self.families:
                scored = [
                    (c.scores[budget], c) for c in fam.candidates
                    if budget in c.scores and not math.isnan(c.scores[budget])
                ]  # fmt: skip
                if scored:
                    value, best = (max if higher else min)(scored, key=lambda x: x[0])
                    rows.append((fam.label, dict(best.params), float(value)))
            rows.sort(key=lambda r: -r[2] if higher else r[2])
            out[budget] = rows
        return out

    def snippets(self) -> dict[str, str]:
        """Copy-paste code for the winner in PyTorch, Hugging Face, Lightning, Keras, optax."""
        from schedlab.adapters.snippets import snippets

        win = self.winner
        if win is None:
            return {}
        return snippets(
            win.spec, unit=win.unit, steps_per_epoch=win.steps_per_epoch, epochs=win.epochs,
            optimizer=str(self.comparison.plan.config.to_dict().get("optimizer", "sgd")),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        win = self.winner
        return {
            "name": self.name, "store": str(self.store), "storage": self.storage,
            "budgets": list(self.budgets), "seeds": list(self.seeds), "metric": self.metric,
            "winner": None if win is None else win.to_dict(),
            "families": [f.to_dict() for f in self.families],
            "ranking": self.ranking.to_dict(), "member_epochs": self.member_epochs,
            "full_member_epochs": self.full_member_epochs, "settings": dict(self.settings),
            "snippets": self.snippets(),
        }  # fmt: skip

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``folder/search.json`` (winner, snippets, families, candidates, ranking) and
        ``folder/ranking.json``, atomically; return the first path."""
        out = output_folder(folder)
        self.comparison.save_ranking(out)
        text = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        return write_atomic(out / "search.json", text)

    def report(self, folder: str | os.PathLike) -> Path:
        """Write the search report (``folder/<name>-search.html``) and the finalists' comparison
        report beside it; return the search report's path."""
        from schedlab.report.search import write_search_report

        out = output_folder(folder)
        compare_page = self.comparison.report(out)
        return write_search_report(self, out, compare_page)


def _epochs(setup: TrainSetup, epochs: int) -> TrainSetup:
    return dataclasses.replace(setup, epochs=epochs)  # type: ignore[type-var]


def steps_per_epoch(setup: TrainSetup, dataset: Any) -> int:
    """Optimizer steps per epoch of ``setup`` on its loaded data."""
    if hasattr(setup, "steps_per_epoch"):
        return int(setup.steps_per_epoch())  # type: ignore[attr-defined]
    return math.ceil(len(dataset.x_train) / setup.batch_size)  # type: ignore[attr-defined]


def _positive(name: str, value: Any, low: int = 1) -> int:
    if not (is_int(value) and value >= low):
        raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)


@dataclass
class _Search:
    """One call of :func:`run_search`: what it walks through, and the member-epochs trained."""

    setup: TrainSetup
    families: tuple[Family, ...]
    seeds: tuple[int, ...]
    budgets: tuple[int, ...]
    brackets: tuple[Bracket, ...]
    rung_seeds: int
    studies: dict[str, Any]
    store: RunStore
    store_path: str | os.PathLike
    name: str
    metric: str
    dataset: Any
    spe: int
    unit: str
    device: str
    group_size: int
    progress: ProgressFn | None
    recorder: Recorder
    trained: int = 0
    planned: int = 0

    # -- bookkeeping ---------------------------------------------------------------------------
    def tick(self, n: int) -> None:
        self.trained += n
        if self.progress:
            self.progress(self.trained, max(self.planned, self.trained))

    def units(self, epochs: int) -> int:
        return epochs if self.unit == "epoch" else epochs * self.spe

    def participants(self, study: Any, r: int) -> list[Any]:
        """The trials that train at rung ``r``: their bracket has started and every verdict
        before ``r`` promoted them (a pure function of the stored verdicts, so a resumed search
        plans each rung exactly as before)."""
        out = []
        for t in study.get_trials(deepcopy=False):
            b = t.user_attrs.get(BRACKET)
            if b is None or self.brackets[b].first > r:
                continue
            if all(
                t.user_attrs.get(f"rung{q}") == "promoted" for q in range(self.brackets[b].first, r)
            ):
                out.append(t)
        return sorted(out, key=lambda t: t.number)

    def ask(self, fam: Family, study: Any, bracket: Bracket) -> None:
        """Ask the study for the candidates of ``bracket`` it does not have yet."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        for t in trials:  # asked by a killed call before it was given a bracket: never trained
            if t.user_attrs.get(BRACKET) is None and t.state == TrialState.RUNNING:
                study.tell(t.number, state=TrialState.FAIL)
        have = [t for t in trials if t.user_attrs.get(BRACKET) == bracket.index]
        dists = {f.name: f.range.distribution() for f in fam.free}
        for _ in range(bracket.size - len(have)):
            trial = study.ask(dists)
            trial.set_user_attr(BRACKET, bracket.index)

    def specs(self, fam: Family, trial: Any, r: int) -> tuple[str, str]:
        """``(spec at rung r, spec at the full budget)`` of a candidate."""
        top = len(self.budgets) - 1
        return fam.spec(trial.params, self.units(self.budgets[r])), fam.spec(
            trial.params, self.units(self.budgets[top])
        )

    def register(
        self, setup: TrainSetup, sweep: str, pairs: Sequence[tuple[str, str]], seeds: Sequence[int]
    ) -> tuple[SweepPlan, dict[tuple[str, int], int]]:
        """The sweep ``sweep`` of ``(label, spec)`` x ``seeds`` in the store: plan and run ids."""
        unique: dict[str, str] = {}
        for label, spec in pairs:
            unique.setdefault(spec, label)
        plan = make_plan(setup, [(label, spec) for spec, label in unique.items()], seeds, sweep)
        self.store.ensure_sweep(plan.name, plan.to_dict())
        ids = self.store.ensure_runs(plan.name, setup.to_dict(), setup.config_hash(), plan.runs())
        return plan, {(spec, seed): i for (_, spec, seed), i in zip(plan.runs(), ids, strict=True)}

    def score(self, run_ids: Sequence[int]) -> float:
        """Mean final metric of runs (NaN if one has none or diverged)."""
        values = []
        for run_id in run_ids:
            epochs = self.store.epochs(run_id)
            value = epochs[-1].metric(metric_direction(self.metric)[0]) if epochs else None
            values.append(math.nan if value is None else float(value))
        return float(sum(values) / len(values)) if values else math.nan

    # -- one rung ------------------------------------------------------------------------------
    def rung(self, r: int) -> None:
        top = len(self.budgets) - 1
        budget = self.budgets[r]
        for fam in self.families:
            for bracket in self.brackets:
                if bracket.first == r:
                    self.ask(fam, self.studies[fam.label], bracket)
        seeds = self.seeds if r == top else self.seeds[: self.rung_seeds]
        live = {fam.label: self.participants(self.studies[fam.label], r) for fam in self.families}
        specs = {
            (fam.label, t.number): self.specs(fam, t, r)
            for fam in self.families
            for t in live[fam.label]
        }
        if r == top:
            return
        setup = _epochs(self.setup, budget)
        pairs = [(f"{label}#{n}", specs[label, n][0]) for (label, n) in specs]
        _, ids = self.register(setup, f"{self.name}/rung{r}", pairs, seeds)
        self.forks(r, specs, ids, seeds)
        self.tick(0)
        advance(
            self.store, setup, self.dataset, list(ids.values()), device=self.device,
            group_size=self.group_size, recorder=self.recorder, on_epoch=self.tick,
        )  # fmt: skip
        for fam in self.families:
            study = self.studies[fam.label]
            for t in live[fam.label]:
                value = self.score([ids[specs[fam.label, t.number][0], s] for s in seeds])
                handle = trial_handle(study, t)
                if budget not in t.intermediate_values:
                    handle.report(value, step=budget)
            self.verdicts(study, live[fam.label], r)

    def forks(
        self,
        r: int,
        specs: Mapping[tuple[str, int], tuple[str, str]],
        ids: Mapping[tuple[str, int], int],
        seeds: Sequence[int],
    ) -> None:
        """Train the trunks (full-budget runs) that the rung's runs share their first epochs with,
        each to its fork epoch, and fork the rung's runs that have not begun from them."""
        budget = self.budgets[r]
        wanted = []  # (family, spec at the rung, spec at the full budget, fork epoch)
        for (label, _), (spec_r, spec_top) in specs.items():
            k = shared_epochs(spec_r, spec_top, budget, self.spe, self.unit)
            if k >= 1:
                wanted.append((label, spec_r, spec_top, k))
        if not wanted:
            return
        tops = list(dict.fromkeys(top for _, _, top, _ in wanted))
        _, trunk_ids = self.register(
            self.setup, f"{self.name}/trunks{r}", [(f"trunk{i}", t) for i, t in enumerate(tops)],
            seeds,
        )  # fmt: skip
        todo = [
            (label, spec_r, top, s, k)
            for label, spec_r, top, k in wanted
            for s in seeds
            if self.store.runs(id=ids[spec_r, s])[0].epochs_done == 0
        ]
        for k in sorted({w[-1] for w in todo}):
            group = [w for w in todo if w[-1] == k]
            advance(
                self.store, self.setup, self.dataset, sorted({trunk_ids[w[2], w[3]] for w in group}),
                until=k, device=self.device, group_size=self.group_size, recorder=self.recorder,
                on_epoch=self.tick,
            )  # fmt: skip
            for label, spec_r, top, s, _ in group:
                target = ids[spec_r, s]
                if fork(
                    self.store, trunk_ids[top, s], target, k, schedule=spec_r, length=budget,
                    unit=self.unit, steps_per_epoch=self.spe,
                ):  # fmt: skip
                    self.studies[label].set_user_attr(f"fork:{target}", k)

    def verdicts(self, study: Any, live: Sequence[Any], r: int) -> None:
        """Ask the pruner about every live candidate (all have reported), in trial order."""
        from optuna.trial import TrialState

        key = f"rung{r}"
        fresh = {t.number: t for t in study.get_trials(deepcopy=False)}
        for t in live:
            t = fresh[t.number]
            verdict = t.user_attrs.get(key)
            if verdict is None:
                handle = trial_handle(study, t)
                verdict = "pruned" if handle.should_prune() else "promoted"
                handle.set_user_attr(key, verdict)
            if verdict == "pruned" and t.state == TrialState.RUNNING:
                study.tell(t.number, state=TrialState.PRUNED)

    # -- the final rung ------------------------------------------------------------------------
    def final(self) -> tuple[Comparison, dict[tuple[str, int], str]]:
        top = len(self.budgets) - 1
        labels: dict[tuple[str, int], str] = {}
        pairs = []
        for fam in self.families:
            for t in self.participants(self.studies[fam.label], top):
                spec = fam.spec(t.params, self.units(self.budgets[top]))
                label = f"{fam.label}@{fam.describe(t.params)}"
                if label in labels.values():
                    label = f"{fam.label}#{t.number}@{fam.describe(t.params)}"
                labels[fam.label, t.number] = label
                pairs.append((label, spec))
        if not pairs:
            raise ConfigError("search: no candidate reached the full budget")
        plan, ids = self.register(self.setup, self.name, pairs, self.seeds)
        self.tick(0)
        done_before = sum(r.status in ("finished", "diverged") for r in self.store.runs(plan.name))
        advance(
            self.store, self.setup, self.dataset, list(ids.values()), device=self.device,
            group_size=self.group_size, recorder=self.recorder, on_epoch=self.tick,
        )  # fmt: skip
        from optuna.trial import TrialState

        for fam in self.families:
            study = self.studies[fam.label]
            for t in self.participants(study, top):
                spec = fam.spec(t.params, self.units(self.budgets[top]))
                value = self.score([ids[spec, s] for s in self.seeds])
                if t.state == TrialState.RUNNING:
                    if math.isnan(value):
                        study.tell(t.number, state=TrialState.FAIL)
                    else:
                        study.tell(t.number, value)
        ranking = rank(self.store, plan.name, metric=self.metric)
        outcome = SweepOutcome(
            plan.name, tuple(ids.values()), done_before, 0, len(ids) - done_before, self.trained,
            tuple(self.recorder.engines),
        )  # fmt: skip
        engine = "; ".join(self.recorder.engines) or None
        return Comparison(Path(self.store_path), plan, outcome, ranking, engine), labels

    def results(
        self, labels: Mapping[tuple[str, int], str], ranking: Ranking
    ) -> tuple[FamilyResult, ...]:
        from optuna.trial import TrialState

        order = {row.label: i for i, row in enumerate(ranking.rows)}
        out = []
        for fam in self.families:
            study = self.studies[fam.label]
            cands = []
            for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
                if t.user_attrs.get(BRACKET) is None:
                    continue
                outcome = {TrialState.PRUNED: "pruned", TrialState.COMPLETE: "finalist"}.get(
                    t.state, "finalist" if (fam.label, t.number) in labels else "running"
                )
                spec = fam.spec(t.params, self.units(self.budgets[-1]))
                scores = dict(sorted(t.intermediate_values.items()))
                if t.state == TrialState.COMPLETE and t.value is not None:
                    scores[self.budgets[-1]] = float(t.value)  # every seed at the full budget
                cands.append(Candidate(
                    fam.label, t.number, int(t.user_attrs[BRACKET]), dict(t.params),
                    scores, outcome, spec,
                ))  # fmt: skip
            mine = [
                (order[labels[fam.label, c.trial]], c)
                for c in cands
                if (fam.label, c.trial) in labels and labels[fam.label, c.trial] in order
            ]
            best = min(mine, key=lambda x: x[0])[1] if mine else None
            out.append(FamilyResult(
                fam.label, fam.template,
                None if best is None else labels[fam.label, best.trial],
                None if best is None else best.spec,
                {} if best is None else dict(best.params), tuple(cands),
            ))  # fmt: skip
        out.sort(key=lambda f: order.get(f.best_label or "", len(order)))
        return tuple(out)

    def member_epochs(self) -> int:
        """Epochs held by the search's runs, forks not counted."""
        runs = {}
        for sweep in self.store.sweeps():
            if sweep.name == self.name or sweep.name.startswith(self.name + "/"):
                for r in self.store.runs(sweep.name):
                    runs[r.id] = r.epochs_done
        forked = 0
        for study in self.studies.values():
            forked += sum(
                int(v)
                for k, v in study.user_attrs.items()
                if k.startswith("fork:") and int(k[5:]) in runs
            )
        return sum(runs.values()) - forked


def run_search(
    setup: TrainSetup,
    families: Any,
    seeds: Sequence[int],
    *,
    ranges: Mapping[str, Any] | None = None,
    store: str | os.PathLike,
    name: str | None = None,
    metric: str | None = None,
    trials: int = 9,
    eta: int = 3,
    min_epochs: int = 1,
    rungs: Sequence[int] | None = None,
    brackets_count: int = 1,
    rung_seeds: int = 1,
    sampler: str = "qmc",
    pruner: str = "halving",
    sampler_seed: int = 0,
    storage: str | None = None,
    device: str = "cpu",
    group_size: int = 16,
    data_root: str | None = None,
    data: Any = None,
    progress: ProgressFn | None = None,
) -> SearchResult:
    """Search ``families`` (templates with free parameters, see
    :mod:`~schedlab.lab.searches.families`) for the best schedule under ``setup``.

    Args:
        seeds: the seeds of the final comparison; rungs before it train ``rung_seeds`` of them.
        trials: candidates per family (in the first bracket); ``eta``: each rung keeps
            ``1/eta``; ``min_epochs``: the first rung's budget at least; ``rungs``: the budgets
            (epochs) explicitly; ``brackets_count``: Hyperband brackets (1: successive halving).
        sampler, sampler_seed, pruner, storage: see :mod:`~schedlab.lab.searches.study`.
        metric: ranked by (``val_acc``; ``val_loss`` for regression).
        store, name, device, group_size, data_root, data, progress: as for ``run_comparison``.
    """
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ConfigError("search: give at least one seed")
    trials = _positive("trials", trials)
    eta = _positive("eta", eta, 2)
    rung_seeds = _positive("rung_seeds", rung_seeds)
    group_size = _positive("group_size", group_size)
    if not is_int(sampler_seed):
        raise ConfigError(f"sampler_seed must be an integer; got {sampler_seed!r}")
    metric = check_metric(setup, metric)
    if pruner == "none":  # no early stopping: one rung, or every budget given (a budget sweep)
        budgets = (setup.epochs,) if rungs is None else rung_epochs(setup.epochs, eta, rungs=rungs)
    else:
        budgets = rung_epochs(setup.epochs, eta, min_epochs, rungs)
    plan_brackets = brackets(trials, eta, len(budgets), brackets_count)
    if pruner not in PRUNERS:
        raise ConfigError(f"pruner must be one of {', '.join(PRUNERS)}; got {pruner!r}")
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")
    dataset = data if data is not None else load_data(setup, data_root)
    spe = steps_per_epoch(setup, dataset)
    unit = str(setup.to_dict().get("unit", "epoch"))
    units = [b if unit == "epoch" else b * spe for b in budgets]
    if _parsed(families):
        fams = tuple(families)
    else:
        fams = parse_families(families, ranges, units, defaults=DEFAULT_RANGES)
    settings = {
        "config": setup.to_dict(), "families": [[f.label, f.template, [[x.name, str(x.range)] for x in f.free]] for f in fams],
        "seeds": list(seeds), "trials": trials, "eta": eta, "budgets": list(budgets),
        "brackets": [dataclasses.asdict(b) for b in plan_brackets], "rung_seeds": rung_seeds,
        "sampler": sampler, "sampler_seed": int(sampler_seed), "pruner": pruner, "metric": metric,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    names = setup.to_dict()
    name = name or f"search-{names['dataset']}-{names['model']}-{names['optimizer']}-{digest[:8]}"
    url = storage_url(store, storage)
    maximize = metric_direction(metric)[1]
    with RunStore(store) as run_store, exclusive(run_store), quiet():
        studies = {}
        for fam in fams:
            grid = None
            if sampler == "grid":  # enough points for every candidate of every bracket
                total = sum(b.size for b in plan_brackets)
                per_axis = math.ceil(total ** (1 / len(fam.free)) - 1e-9)
                grid = {f.name: f.range.grid(per_axis) for f in fam.free}
            studies[fam.label] = open_study(
                url, f"{name}/{fam.label}", maximize=maximize,
                sampler=make_sampler(sampler, int(sampler_seed), grid),
                pruner=make_pruner(pruner, eta, budgets[0]), fingerprint=digest,
            )  # fmt: skip
        search = _Search(
            setup=setup, families=fams, seeds=seeds, budgets=budgets, brackets=plan_brackets,
            rung_seeds=rung_seeds, studies=studies, store=run_store, store_path=store,
            name=name, metric=metric, dataset=dataset, spe=spe, unit=unit, device=device,
            group_size=group_size, progress=progress, recorder=Recorder(run_store),
        )  # fmt: skip
        keep = 10**9 if pruner == "none" else eta
        search.planned = _planned(plan_brackets, budgets, len(fams), len(seeds), rung_seeds, keep)
        for r in range(len(budgets)):
            search.rung(r)
        comparison, labels = search.final()
        fam_results = search.results(labels, comparison.ranking)
        full = sum(b.size for b in plan_brackets) * len(fams) * len(seeds) * setup.epochs
        result = SearchResult(
            name=name, storage=url, budgets=budgets, seeds=seeds, metric=metric,
            families=fam_results, comparison=comparison, member_epochs=search.member_epochs(),
            full_member_epochs=full, trained_now=search.trained,
            settings={**settings, "unit": unit, "steps_per_epoch": spe, "storage": url},
        )  # fmt: skip
    return result


def _parsed(families: Any) -> bool:
    return (
        isinstance(families, (list, tuple))
        and bool(families)
        and all(isinstance(f, Family) for f in families)
    )


def _planned(
    plan: Sequence[Bracket],
    budgets: Sequence[int],
    families: int,
    seeds: int,
    rung_seeds: int,
    eta: int,
) -> int:
    """Member-epochs the search trains at most (forks make it less)."""
    top = len(budgets) - 1
    total = 0
    for b in plan:
        n = b.size
        for r in range(b.first, len(budgets)):
            total += n * (seeds if r == top else rung_seeds) * budgets[r]
            n = survivors(n, eta) if eta < 10**9 else n
    return total * families
