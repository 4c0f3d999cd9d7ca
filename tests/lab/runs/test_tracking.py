"""The tracker interface: the sweep calls every tracker as epochs finish; a tracker is a mirror of
the store whether the sweep ran in one go, was resumed, or is replayed afterwards."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from schedlab.lab.runs.store import EpochResult, RunStore
from schedlab.lab.runs.tracking import Recorder, RunInfo, StoreTracker, Tracker, replay
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.train.config import TrainConfig

torch.set_num_threads(1)

EPOCHS = 3
CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=EPOCHS, batch_size=32, train_size=300)
PLAN = make_plan(CONFIG, ["const=constant(0.05)", "cos=cosine(lr=0.1, steps=3)"], [0, 1], name="t")
FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "diverged")


class ListTracker:
    """A tracker that keeps what it is told, per run id (our own interface, not a framework)."""

    def __init__(self) -> None:
        self.infos: dict[int, RunInfo] = {}
        self.epochs: dict[int, list] = {}
        self.ends: dict[int, list[str]] = {}
        self.calls: list[str] = []

    def start_run(self, run: RunInfo) -> None:
        self.calls.append(f"start {run.run_id}@{run.start_epoch}")
        self.infos[run.run_id] = run
        self.epochs[run.run_id] = []

    def log_epoch(self, results: Sequence[EpochResult]) -> None:
        for res in results:
            assert res.run_id in self.infos, "log_epoch before start_run"
            self.epochs[res.run_id].append(res.record)

    def end_run(self, run: RunInfo, status: str) -> None:
        self.ends.setdefault(run.run_id, []).append(status)


def _as_rows(records) -> list[dict]:
    return [{k: getattr(r, k) for k in FIELDS} for r in records]


def _assert_mirrors_store(tracker: ListTracker, store: RunStore) -> None:
    runs = store.runs(PLAN.name)
    assert sorted(tracker.epochs) == sorted(r.id for r in runs)
    for run in runs:
        stored = [{k: getattr(e, k) for k in FIELDS} for e in store.epochs(run.id)]
        assert _as_rows(tracker.epochs[run.id]) == stored
        lrs = np.concatenate([r.step_lrs for r in tracker.epochs[run.id]])
        np.testing.assert_array_equal(lrs, store.step_lrs(run.id))
        info = tracker.infos[run.id]
        assert (info.sweep, info.label, info.schedule, info.seed) == (
            "t", run.label, run.schedule, run.seed)  # fmt: skip
        assert info.config == CONFIG.to_dict() and info.config_hash == CONFIG.config_hash()
        assert tracker.ends[run.id][-1] == "finished"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tracker = ListTracker()
    with RunStore(tmp_path_factory.mktemp("live") / "runs.sqlite") as store:
        run_sweep(store, PLAN, group_size=4, trackers=[tracker])
        yield store, tracker


def test_live_tracker_sees_every_epoch_as_stored(live) -> None:
    store, tracker = live
    _assert_mirrors_store(tracker, store)
    assert all(ends == ["finished"] for ends in tracker.ends.values())
    assert all(c.endswith("@0") for c in tracker.calls)


def test_resumed_sweep_replays_history_into_mirrors(tmp_path, live) -> None:
    full, _ = live

    def stop(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    first, second = ListTracker(), ListTracker()
    with RunStore(tmp_path / "runs.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(store, PLAN, group_size=2, trackers=[first], progress=stop)
        assert list(first.ends.values()) == [["interrupted"], ["interrupted"]]
        assert [len(e) for e in first.epochs.values()] == [1, 1]
        outcome = run_sweep(store, PLAN, group_size=2, trackers=[second])
        assert outcome.resumed == 2
        assert store.runs(PLAN.name, status="finished") == store.runs(PLAN.name)
        _assert_mirrors_store(second, store)  # epochs 0..2 exactly once, the first one replayed
        assert sorted(second.calls) == sorted(f"start {i}@0" for i in second.infos)
        for a, b in zip(store.runs(PLAN.name), full.runs(PLAN.name), strict=True):
            got, want = store.epochs(a.id), full.epochs(b.id)
            assert [e.val_loss for e in got] == pytest.approx([e.val_loss for e in want],
                                                                 rel=1e-5)  # fmt: skip


def test_replay_equals_live_tracking(live) -> None:
    store, tracker = live
    again = ListTracker()
    infos = replay(store, again, "t")
    assert [i.run_id for i in infos] == [r.id for r in store.runs("t")]
    for run_id, records in tracker.epochs.items():
        assert _as_rows(again.epochs[run_id]) == _as_rows(records)
        for a, b in zip(again.epochs[run_id], records, strict=True):
            np.testing.assert_array_equal(a.step_lrs, b.step_lrs)
    assert again.ends == tracker.ends
    assert replay(store, ListTracker(), "t", label="cos", seed=1)[0].label == "cos"


def test_store_tracker_and_recorder_rules(live, tmp_path) -> None:
    store, _ = live
    assert isinstance(StoreTracker(store), Tracker) and isinstance(ListTracker(), Tracker)
    with pytest.raises(
        ValueError, match="trackers: each must have start_run, log_epoch and end_run; got str"
    ):
        Recorder(store, "t", ["mlflow"])  # type: ignore[list-item]
    with pytest.raises(
        ValueError, match="status must be one of finished, diverged, failed, interrupted; got 'ok'"
    ):
        Recorder(store).end(1, "ok")
    with RunStore(tmp_path / "r.sqlite") as other:
        other.ensure_sweep("s", PLAN.to_dict())
        (run_id,) = other.ensure_runs("s", CONFIG.to_dict(), CONFIG.config_hash(), PLAN.runs()[:1])
        recorder = Recorder(other, "s")
        recorder.start([run_id], 0)
        assert other.runs("s")[0].status == "running"
        recorder.end(run_id, "failed")
        assert other.runs("s")[0].status == "failed"


def test_run_params_flatten_config_and_spec(live) -> None:
    store, tracker = live
    run = next(r for r in store.runs("t") if r.label == "cos" and r.seed == 1)
    params = tracker.infos[run.id].params()
    assert params["schedule"] == "cosine(lr=0.1, steps=3, min_lr=0.0)"
    assert (params["schedule.kind"], params["schedule.lr"], params["schedule.steps"]) == (
        "cosine", "0.1", "3")  # fmt: skip
    assert (params["seed"], params["label"], params["sweep"]) == ("1", "cos", "t")
    assert (params["dataset"], params["epochs"], params["train_size"]) == ("digits", "3", "300")
    assert tracker.infos[run.id].key.endswith("/cosine(lr=0.1, steps=3, min_lr=0.0)/seed=1")


def test_local_default_imports_no_ray_mlflow_or_tensorboard() -> None:
    import subprocess
    import sys

    code = (
        "import sys, schedlab.cli.lab_commands, schedlab.lab.runs.tracking\n"
        "from schedlab.lab.sweeps.backends import make_backend\n"
        "from schedlab.cli.tracking_options import make_trackers\n"
        "assert type(make_backend('local')).__name__ == 'LocalBackend' and make_trackers(None) == []\n"
        "print(sorted(m for m in ('ray', 'mlflow', 'tensorboard') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
