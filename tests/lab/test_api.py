"""``schedlab.lab.compare`` on the user's own model: store, identity, resume, ranking, report."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from schedlab.errors import ConfigError
from schedlab.lab import compare
from schedlab.lab.runs.store import RunStore
from schedlab.lab.runs.tracking import stored_epochs


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12))
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)  # numpy in: float32 tensors


TRAIN, VAL = _data(0, 160), _data(1, 64)


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))


def f1(out: torch.Tensor, y: torch.Tensor) -> float:
    pred = out.argmax(1)
    tp = int(((pred == 1) & (y == 1)).sum())
    return 2 * tp / max(1, int((pred == 1).sum()) + int((y == 1).sum()))


SCHEDULES = {"const": "constant(0.05)", "cos": "cosine(0.2, 4)"}


def _compare(store, **kw):
    args = dict(
        schedules=SCHEDULES, seeds=2, epochs=4, batch_size=32, store=store,
        optimizer=(torch.optim.SGD, {"momentum": 0.9}), metrics={"f1": f1}, progress=False,
        workers=1,
    )  # fmt: skip
    return compare(net, TRAIN, VAL, **{**args, **kw})


def test_compare_stores_ranks_reports_and_resumes(tmp_path) -> None:
    store = tmp_path / "runs.sqlite"
    result = _compare(store, engine="stacked")  # auto may time this tiny net per run
    assert result.engine.startswith("stacked")
    assert sorted(result.ranking.labels) == ["const", "cos"]
    assert result.ranking.metric == "val_acc" and len(result.ranking) == 2
    runs = result.runs
    assert len(runs) == 4 and {r.status for r in runs} == {"finished"}
    assert {r.model for r in runs} == {"Sequential"} and {r.optimizer for r in runs} == {"SGD"}
    with RunStore(store) as s:
        epochs = s.epochs(runs[0].id)
        assert [e.epoch for e in epochs] == [0, 1, 2, 3]
        assert 0 <= epochs[-1].extra["val_f1"] <= 1
        assert len(stored_epochs(s, runs[0].id)[0].step_lrs) == 5  # 160 / 32 steps per epoch
    page = result.report(tmp_path / "out")
    assert page.is_file() and "cos" in page.read_text()
    again = _compare(store)  # the engine is not part of a run's identity
    assert (again.outcome.skipped, again.outcome.started, again.engine) == (4, 0, None)
    assert again.name == result.name


def test_changing_model_data_or_optimizer_makes_new_runs(tmp_path) -> None:
    store = tmp_path / "runs.sqlite"
    first = _compare(store, epochs=1)
    other = _compare(store, epochs=1, optimizer=torch.optim.Adam)
    assert other.name != first.name and other.outcome.started == 4
    x, y = TRAIN
    moved = compare(
        net, (x + 0.1, y), VAL, schedules=SCHEDULES, seeds=2, epochs=1, batch_size=32,
        store=store, progress=False, workers=1, optimizer=(torch.optim.SGD, {"momentum": 0.9}),
        metrics={"f1": f1},
    )  # fmt: skip
    assert moved.outcome.started == 4
    with RunStore(store) as s:
        assert len({r.config_hash for r in s.runs()}) == 3


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path) -> None:
    """A progress callback that stops the sweep after the first group epoch, then a rerun."""
    from schedlab.lab.sweeps.compare import run_comparison
    from schedlab.lab.train.task import UserTask

    task = UserTask.build(net, TRAIN, VAL, epochs=4, batch_size=32, workers=1)
    store = tmp_path / "runs.sqlite"

    def stop(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_comparison(task, list(SCHEDULES.items()), [0, 1], store=store, progress=stop)
    with RunStore(store) as s:
        assert {r.epochs_done for r in s.runs()} == {1}
    resumed = run_comparison(task, list(SCHEDULES.items()), [0, 1], store=store)
    assert resumed.outcome.resumed == 4 and resumed.outcome.epochs_trained == 12
    fresh = run_comparison(task, list(SCHEDULES.items()), [0, 1], store=tmp_path / "b.sqlite")
    a = {r.label: r for r in resumed.ranking}
    b = {r.label: r for r in fresh.ranking}
    for label in SCHEDULES:
        assert a[label].final.mean == pytest.approx(b[label].final.mean, abs=1e-6)


def test_built_in_models_by_name(tmp_path) -> None:
    result = compare(
        "linear", "digits", schedules=["constant(0.05)"], seeds=1, epochs=1, batch_size=64,
        store=tmp_path / "s.sqlite", progress=False,
    )  # fmt: skip
    assert result.runs[0].dataset == "digits" and result.runs[0].status == "finished"
    assert result.runs[0].config["train_size"] is None  # the whole split: digits is small


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "resnet"}, "one of mlp"),
        ({"val": None}, "give both train and val"),
        ({"momentum": 0.9}, "unknown arguments momentum"),
        ({"schedules": ["cosine(lr=abc, steps=3)"]}, "cosine: lr"),
        ({"seeds": 0}, "seeds"),
    ],
)
def test_bad_arguments_store_nothing(tmp_path, kwargs, match) -> None:
    store = tmp_path / "s.sqlite"
    args = dict(model=net, train=TRAIN, val=VAL, schedules=SCHEDULES, store=store, progress=False)
    with pytest.raises(ConfigError if "cosine" not in match else ValueError, match=match):
        compare(**{**args, **kwargs})
    assert not store.exists()


def test_ranking_by_a_metric_of_the_users_own(tmp_path) -> None:
    from schedlab.lab.analysis.stats import rank

    store = tmp_path / "runs.sqlite"
    result = _compare(store, metric="val_f1:max")
    ranking = result.ranking
    assert (ranking.metric, ranking.higher_is_better, ranking.metric_key) == (
        "val_f1", True, "val_f1:max",
    )  # fmt: skip
    with RunStore(store) as s:
        finals = {
            label: np.mean([s.epochs(r.id)[-1].extra["val_f1"] for r in result.runs
                            if r.label == label])
            for label in SCHEDULES
        }  # fmt: skip
        assert [r.final.mean for r in ranking] == pytest.approx(
            sorted(finals.values(), reverse=True)
        )
        assert ranking.labels == sorted(finals, key=finals.get, reverse=True)
        # lower-is-better reverses the order of the same numbers
        low = rank(s, result.name, metric="val_f1:min")
        assert low.labels == ranking.labels[::-1] and not low.higher_is_better
        with pytest.raises(ConfigError, match=r"'val_mae' is not stored in sweep .*val_f1"):
            rank(s, result.name, metric="val_mae:min")
    page = result.report(tmp_path / "out").read_text()
    assert "val_f1" in page


@pytest.mark.parametrize(
    ("metric", "match"),
    [
        ("val_f1", "val_f1:max' or 'val_mae:min'"),  # a metric of your own needs its direction
        ("val_f1:up", "must be 'max' or 'min'"),
        ("val_loss:max", "lower-is-better"),
        ("val_mae:min", "not one of this task's metrics: .*val_f1"),
    ],
)
def test_bad_ranking_metric_is_refused_before_training(tmp_path, metric, match) -> None:
    store = tmp_path / "s.sqlite"
    with pytest.raises(ConfigError, match=match):
        _compare(store, metric=metric)
    assert not store.exists()
