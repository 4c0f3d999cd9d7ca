"""The search end to end on a tiny task: Optuna's SQLite storage, the rungs in the run store,
forks equal to training from scratch, resume, the result, the report."""

from __future__ import annotations

import json
import math

import optuna
import pytest
from search_cases import CONFIG, FAMILIES, RANGES, SEARCH, SEEDS

from schedlab.errors import ConfigError
from schedlab.lab.runs.store import RunStore
from schedlab.lab.searches.pruner import RungPruner
from schedlab.lab.searches.search import run_search
from schedlab.lab.searches.study import BRACKET
from schedlab.lab.sweeps.compare import run_comparison


def test_the_studies_live_in_a_real_sqlite_storage(tiny_search) -> None:
    result, store = tiny_search
    assert result.storage == f"sqlite:///{store.parent.resolve() / 'runs.optuna.sqlite'}"
    assert (store.parent / "runs.optuna.sqlite").is_file()
    names = {s.study_name for s in optuna.get_all_study_summaries(result.storage)}
    assert names == {f"tiny/{label}" for label in FAMILIES}
    for label in FAMILIES:
        study = optuna.load_study(study_name=f"tiny/{label}", storage=result.storage)
        states = sorted(t.state.name for t in study.trials)
        assert states == ["COMPLETE", "PRUNED", "PRUNED"]  # 3 candidates, 3 // eta = 1 goes on
        for t in study.trials:
            assert t.user_attrs[BRACKET] == 0
            assert set(t.intermediate_values) == {2}  # one rung before the full budget
            assert t.user_attrs["rung0"] == ("promoted" if t.state.name == "COMPLETE" else "pruned")
        best = study.best_trial
        fam = next(f for f in result.families if f.label == label)
        assert fam.params == best.params
        row = next(r for r in result.ranking if r.label == fam.best_label)
        assert best.value == pytest.approx(row.final.mean)  # told: the mean over every seed


def test_rungs_train_each_family_compressed_to_the_rung(tiny_search) -> None:
    _, store = tiny_search
    with RunStore(store) as st:
        rung = st.runs("tiny/rung0")
        assert len(rung) == 9 and {r.epochs for r in rung} == {2} and {r.seed for r in rung} == {0}
        for r in rung:
            lrs = st.step_lrs(r.id)
            assert len(lrs) == 2 * 8  # 240 training samples / 32: 8 steps per epoch
            if r.schedule.startswith("cosine"):
                assert lrs[-1] < 0.02 * lrs[0]  # annealed by the end of the 2-epoch rung
            if r.schedule.startswith("wsd"):
                assert "steps=16, decay_steps=3" in r.schedule
        final = st.runs("tiny")
        assert len(final) == 3 * len(SEEDS) and {r.epochs for r in final} == {6}
        assert all(r.status == "finished" for r in [*rung, *final])


def test_forked_runs_equal_runs_trained_from_scratch(tiny_search, tmp_path) -> None:
    """The constant rung runs are copies of their trunk's first epochs, the WSD rung runs start
    from the trunk's checkpoint after its first epoch: the same numbers as training them alone."""
    _, store = tiny_search
    with RunStore(store) as st:
        rung = {r.schedule: r for r in st.runs("tiny/rung0")}
        stored = {s: [e.val_loss for e in st.epochs(r.id)] for s, r in rung.items()}
        seconds = {s: [e.seconds for e in st.epochs(r.id)] for s, r in rung.items()}
    forked_const = [s for s in rung if s.startswith("constant")]
    forked_wsd = [s for s in rung if s.startswith("wsd")]
    assert all(seconds[s] == [0.0, 0.0] for s in forked_const)  # copied, not trained
    assert all(seconds[s][0] == 0.0 and seconds[s][1] > 0 for s in forked_wsd)  # forked at 1
    assert all(min(seconds[s]) > 0 for s in rung if s.startswith("cosine"))  # no shared prefix
    scratch = run_comparison(
        CONFIG.__class__(**{**CONFIG.to_dict(), "epochs": 2}),
        [(f"s{i}", s) for i, s in enumerate([*forked_const, *forked_wsd])], [0],
        store=tmp_path / "scratch.sqlite", name="scratch",
    )  # fmt: skip
    with RunStore(tmp_path / "scratch.sqlite") as st:
        for r in st.runs(scratch.name):
            alone = [e.val_loss for e in st.epochs(r.id)]
            assert alone == pytest.approx(stored[r.schedule], rel=1e-5)


def test_the_result(tiny_search, tmp_path) -> None:
    result, store = tiny_search
    assert result.budgets == (2, 6) and result.seeds == SEEDS
    win = result.winner
    assert win is not None and win.label == result.ranking[0].label
    assert win.family in FAMILIES and set(win.params) == {"lr"}
    assert 1e-2 <= win.params["lr"] <= 1 and win.unit == "step" and win.steps_per_epoch == 8
    assert [f.best_label for f in result.families] == [r.label for r in result.ranking]
    # every candidate x every seed x 6 epochs, against what was trained (forks not counted)
    assert result.full_member_epochs == 3 * 3 * 2 * 6
    with RunStore(store) as st:
        runs = {r.id: r.epochs_done for s in st.sweeps() for r in st.runs(s.name)}
    forked = 3 * 2 + 3 * 1  # constant: both rung epochs; wsd: the first
    assert result.member_epochs == sum(runs.values()) - forked
    assert result.member_epochs < result.full_member_epochs / 2
    code = result.snippets()
    assert set(code) == {"spec", "pytorch", "huggingface", "lightning", "keras", "optax"}
    assert win.spec in code["pytorch"].replace("'", "")
    saved = json.loads(result.save(tmp_path).read_text())
    assert saved["winner"]["spec"] == win.spec and (tmp_path / "ranking.json").is_file()
    page = result.report(tmp_path)
    html = page.read_text()
    assert "Recommendation" in html and win.family in html and "ScheduleLR" in html
    assert (tmp_path / "tiny.html").is_file()  # the finalists' comparison report beside it


def test_rerunning_resumes_and_trains_nothing(tiny_search) -> None:
    result, store = tiny_search
    again = run_search(CONFIG, FAMILIES, SEEDS, ranges=RANGES, store=store, **SEARCH)
    assert again.trained_now == 0
    assert again.member_epochs == result.member_epochs
    assert [r.label for r in again.ranking] == [r.label for r in result.ranking]
    assert again.winner == result.winner


def test_other_settings_under_the_same_name_are_refused(tiny_search) -> None:
    _, store = tiny_search
    with pytest.raises(ConfigError, match="was made by other search settings"):
        run_search(CONFIG, FAMILIES, SEEDS, ranges=RANGES, store=store, **{**SEARCH, "trials": 4})


def _study(values: list[float], maximize: bool = True) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if maximize else "minimize", pruner=RungPruner(3)
    )
    for v in values:
        trial = study.ask()
        trial.set_user_attr(BRACKET, 0)
        trial.report(v, step=1)
    return study


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 5, 0, 3, 1, 4]])
def test_rung_pruner_keeps_the_best_third_whatever_the_order(order) -> None:
    values = [0.5, 0.9, math.nan, 0.7, 0.9, 0.1]
    study = _study(values)
    verdicts = {}
    for i in order:
        trial = optuna.trial.Trial(study, study.trials[i]._trial_id)
        verdicts[i] = trial.should_prune()
    assert [i for i in range(6) if not verdicts[i]] == [1, 4]  # 6 // 3 = 2; ties by number
    low = _study([0.5, 0.9, 0.7], maximize=False)
    kept = [
        i
        for i, t in enumerate(low.trials)
        if not optuna.trial.Trial(low, t._trial_id).should_prune()
    ]
    assert kept == [0]


def test_asha_grid_and_hyperband(tmp_path) -> None:
    """Optuna's own SuccessiveHalvingPruner, the grid sampler and two Hyperband brackets."""
    result = run_search(
        CONFIG.__class__(**{**CONFIG.to_dict(), "epochs": 3}), {"cos": FAMILIES["cos"]}, (0,),
        ranges=RANGES, store=tmp_path / "r.sqlite", name="asha", trials=3, eta=3,
        rungs=(1, 3), brackets_count=2, sampler="grid", pruner="asha",
    )  # fmt: skip
    (fam,) = result.families
    by_bracket = {b: [c for c in fam.candidates if c.bracket == b] for b in (0, 1)}
    assert len(by_bracket[0]) == 3 and len(by_bracket[1]) == 2  # ceil(3 * 2 / (1 * 3))
    grid = {round(10 ** (-2 + 2 * i / 4), 6) for i in range(5)}  # 5 points for 5 candidates
    assert {round(c.params["lr"], 6) for c in fam.candidates} <= grid
    assert all(set(c.scores) <= {1, 3} for c in fam.candidates)
    assert all(1 not in c.scores for c in by_bracket[1])  # bracket 1 starts at the last rung
    assert result.winner is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pruner": "median"}, "pruner must be one of halving, asha, none"),
        ({"sampler": "cmaes"}, "sampler must be one of qmc, tpe, random, grid"),
        ({"trials": 0}, "trials must be an integer >= 1"),
        ({"eta": 1}, "eta must be an integer >= 2"),
        ({"brackets_count": 5}, "brackets must be an integer in [1, 2]"),
        ({"ranges": {"lr": "loguniform(0, 1)"}}, "loguniform needs 0 < low < high"),
    ],
)
def test_bad_settings_fail_before_anything_is_stored(kwargs, message, tmp_path) -> None:
    args = {"ranges": RANGES, "store": tmp_path / "x.sqlite", **SEARCH, **kwargs}
    with pytest.raises(ConfigError) as info:
        run_search(CONFIG, FAMILIES, SEEDS, **args)
    assert message in str(info.value)
    assert not (tmp_path / "x.sqlite").exists()


def test_a_budget_sweep_trains_every_candidate_at_every_budget(tmp_path) -> None:
    """``pruner="none"`` with rungs: no early stopping, each candidate's score at every budget;
    the WSD runs of the shorter budgets fork their cooldowns from the full run (one trunk)."""
    result = run_search(
        CONFIG, {"wsd": FAMILIES["wsd"]}, (0,), ranges=RANGES, store=tmp_path / "b.sqlite",
        name="budgets", trials=2, rungs=(2, 6), pruner="none",
    )  # fmt: skip
    (fam,) = result.families
    assert all(set(c.scores) == {2, 6} for c in fam.candidates)
    assert all(c.outcome == "finalist" for c in fam.candidates)
    assert list(result.by_budget()) == [2, 6]
    # trunks: 2 x 6 epochs; the 2-epoch runs fork after 1 epoch and train 1 more
    assert result.member_epochs == 2 * 6 + 2 * 1
