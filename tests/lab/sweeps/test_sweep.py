"""Sweeps: plans, batched groups, skip finished runs, resume from checkpoints = uninterrupted."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import numpy as np
import pytest
import torch

from schedlab import from_spec
from schedlab.lab.data.datasets import load_dataset
from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import exclusive, make_plan, run_sweep
from schedlab.lab.sweeps.groups import pending_groups, train_group
from schedlab.lab.train.config import TrainConfig

torch.set_num_threads(1)

CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=3, batch_size=32, train_size=400,
                     momentum=0.9)  # fmt: skip
SCHEDULES = ["const=constant(0.05)", "cos=cosine(lr=0.1, steps=3)", "plateau(lr=0.1, patience=0)"]


def test_plan_labels_canonical_text_and_name() -> None:
    plan = make_plan(CONFIG, [*SCHEDULES, ("step", "step(0.1, 1, gamma=0.5)")], [0, 1])
    assert [label for label, _ in plan.schedules] == [
        "const", "cos", "plateau(lr=0.1, patience=0)", "step",
    ]  # fmt: skip
    assert plan.schedules[1][1] == "cosine(lr=0.1, steps=3, min_lr=0.0)"
    assert from_spec(plan.schedules[3][1]) == from_spec("step(lr=0.1, step_size=1, gamma=0.5)")
    assert len(plan.runs()) == 8 and plan.runs()[1] == ("const", "constant(lr=0.05)", 1)
    again = make_plan(
        CONFIG, [*SCHEDULES, ("step", "step(lr=0.1, step_size=1, gamma=0.5)")], [0, 1]
    )
    assert again.name == plan.name and plan.name.startswith("digits-mlp-sgd-")
    assert make_plan(CONFIG, SCHEDULES, [0, 2]).name != make_plan(CONFIG, SCHEDULES, [0, 1]).name
    assert make_plan(CONFIG, SCHEDULES, [0], name="mine").name == "mine"


@pytest.mark.parametrize(
    ("schedules", "match"),
    [
        (["a=constant(0.1)", "a=constant(0.2)"], "each label must appear once; repeated: a"),
        (
            ["constant(0.1)", "constant(lr=0.1)"],
            "each schedule must appear once; repeated: constant",
        ),
        (
            ["cosine(lr=0.1)"],
            "schedule 'cosine\\(lr=0.1\\)': cosine: missing required parameter 'steps'",
        ),
        (["x=cosine(0.1, 3, bogus=1)"], "unknown parameter 'bogus'"),
        ([], "give at least one schedule"),
    ],
)
def test_plan_errors(schedules, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_plan(CONFIG, schedules, [0])


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train_size=400, val_fraction=0.2, seed=0)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The sweep run in one go: 3 schedules x 2 seeds in groups of 4 (a group of 4, then of 2)."""
    store = RunStore(tmp_path_factory.mktemp("full") / "runs.sqlite")
    plan = make_plan(CONFIG, SCHEDULES, [0, 1])
    seen: list[tuple[int, int]] = []
    outcome = run_sweep(store, plan, group_size=4, progress=lambda d, t: seen.append((d, t)))
    yield store, plan, outcome, seen
    store.close()


def _finals(store: RunStore, plan) -> dict[tuple[str, int], list[dict]]:
    return {(r.label, r.seed): store.epochs(r.id) for r in store.runs(plan.name)}


def test_sweep_runs_every_member_to_the_end(uninterrupted) -> None:
    store, plan, outcome, seen = uninterrupted
    assert (outcome.skipped, outcome.resumed, outcome.started, outcome.epochs_trained) == (
        0,
        0,
        6,
        18,
    )
    assert seen[0] == (0, 18) and seen[-1] == (18, 18) and len(seen) == 1 + 3 + 3
    runs = store.runs(plan.name)
    assert [(r.label, r.seed) for r in runs] == [
        (lb, s) for lb, _ in plan.schedules for s in (0, 1)
    ]
    assert all(r.status == "finished" and r.epochs_done == 3 for r in runs)
    steps = 10  # 320 training samples / batch 32
    cos = next(r for r in runs if r.label == "cos")
    expected = np.repeat(from_spec("cosine(lr=0.1, steps=3)")(np.arange(3)), steps)
    np.testing.assert_allclose(store.step_lrs(cos.id), expected, rtol=1e-15)
    accs = [e.val_acc for e in store.epochs(cos.id)]
    assert accs[-1] > 0.5, accs  # it really learns the digits


def test_rerun_skips_finished_runs(uninterrupted) -> None:
    store, plan, _, _ = uninterrupted
    before = [(r.attempts, r.finished) for r in store.runs(plan.name)]
    outcome = run_sweep(store, plan, group_size=4)
    assert (outcome.skipped, outcome.resumed, outcome.started, outcome.epochs_trained) == (
        6,
        0,
        0,
        0,
    )
    assert [(r.attempts, r.finished) for r in store.runs(plan.name)] == before


def test_resume_from_checkpoints_equals_uninterrupted(tmp_path, digits, uninterrupted) -> None:
    full, plan, _, _ = uninterrupted
    with RunStore(tmp_path / "runs.sqlite") as store:
        store.ensure_sweep(plan.name, plan.to_dict())
        ids = store.ensure_runs(plan.name, CONFIG.to_dict(), CONFIG.config_hash(), plan.runs())
        # a "crash": the first group of 4 runs trains one epoch, then the process is gone
        group = train_group(store, CONFIG, digits, ids[:4], 0, "cpu")
        assert next(group) == 4
        group.close()
        # and one of them lost its checkpoint: it must restart from scratch
        db = sqlite3.connect(store.path)
        db.execute("DELETE FROM checkpoints WHERE run_id=?", (ids[3],))
        db.commit()
        db.close()
        # each group seed by seed (runs are (schedule, seed) with seeds 0, 1 in turn)
        by_seed = {1: [ids[0], ids[2], ids[1]], 0: [ids[4], ids[3], ids[5]]}
        assert pending_groups(store, ids, CONFIG.epochs) == by_seed
        outcome = run_sweep(store, plan, group_size=4)
        assert (outcome.skipped, outcome.resumed, outcome.started) == (0, 3, 3)
        assert outcome.epochs_trained == 3 * 2 + 3 * 3
        attempts = [r.attempts for r in store.runs(plan.name)]
        assert attempts == [2, 2, 2, 2, 1, 1]
        resumed, expected = _finals(store, plan), _finals(full, plan)
        assert resumed.keys() == expected.keys()
        for key, epochs in expected.items():
            for got, want in zip(resumed[key], epochs, strict=True):
                for field in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
                    assert getattr(got, field) == pytest.approx(
                        getattr(want, field), rel=1e-5, abs=1e-6
                    ), (
                        key,
                        field,
                    )
        for a, b in zip(store.runs(plan.name), full.runs(plan.name), strict=True):
            np.testing.assert_array_equal(store.step_lrs(a.id), full.step_lrs(b.id))


def test_bad_group_size(tmp_path) -> None:
    with (
        RunStore(tmp_path / "r.sqlite") as store,
        pytest.raises(ValueError, match="group_size must be an integer >= 1; got 0"),
    ):
        run_sweep(store, make_plan(CONFIG, SCHEDULES, [0]), group_size=0)


def test_failed_group_is_marked_and_retried(tmp_path) -> None:
    plan = make_plan(dataclasses.replace(CONFIG, epochs=1), SCHEDULES[:2], [0])
    data = load_dataset("digits", train_size=400)
    broken = dataclasses.replace(data, input_shape=(1, 4, 4))  # the model cannot take the data
    with RunStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(RuntimeError):
            run_sweep(store, plan, dataset=broken)
        assert [r.status for r in store.runs(plan.name)] == ["failed", "failed"]
        outcome = run_sweep(store, plan)
        assert (outcome.skipped, outcome.started) == (0, 2)
        runs = store.runs(plan.name)
        assert [(r.status, r.attempts) for r in runs] == [("finished", 2), ("finished", 2)]


def test_one_sweep_at_a_time_per_store(tmp_path) -> None:
    plan = make_plan(dataclasses.replace(CONFIG, epochs=1), SCHEDULES[:1], [0])
    with RunStore(tmp_path / "r.sqlite") as store, RunStore(tmp_path / "r.sqlite") as other:
        with (
            exclusive(other),
            pytest.raises(ValueError, match=f"is in use by another sweep \\(pid {os.getpid()}\\)"),
        ):
            run_sweep(store, plan)
        assert store.runs() == []  # refused before anything was written
        assert run_sweep(store, plan).started == 1  # the lock is released


@pytest.mark.hardware
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_device_is_refused_before_anything_is_written(tmp_path) -> None:
    plan = make_plan(dataclasses.replace(CONFIG, epochs=1), SCHEDULES[:2], [0])
    with RunStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ValueError, match=r"torch\.cuda\.is_available\(\) is False"):
            run_sweep(store, plan, device="cuda")
        assert store.runs() == [] and store.sweeps() == []


@pytest.mark.parametrize(
    ("config", "root", "match"),
    [
        (dataclasses.replace(CONFIG, dataset="imagenet"), None, "name must be one of mnist"),
        (CONFIG, "/no/such/folder", "root '/no/such/folder' does not exist"),
        (dataclasses.replace(CONFIG, batch_size=500), None, r"batch_size \(500\) is larger than"),
        (
            TrainConfig(dataset="digits", model="linear", loss="mse", train_size=100),
            None,
            "loss must be 'cross_entropy' for a classification dataset",
        ),
        (
            TrainConfig(dataset="linreg", model="linear", train_size=100),
            None,
            "loss must be 'mse' for a regression dataset",
        ),
    ],
)
def test_a_rejected_sweep_writes_nothing(tmp_path, config, root, match) -> None:
    plan = make_plan(config, SCHEDULES[:2], [0, 1])
    path = tmp_path / "r.sqlite"
    with RunStore(path) as store:
        store.ensure_sweep("other", {"x": 1})  # a store in use: its bytes must not change
    before = path.read_bytes()
    with RunStore(path) as store:
        with pytest.raises(ValueError, match=match):
            run_sweep(store, plan, data_root=root)
        assert store.runs() == [] and [s.name for s in store.sweeps()] == ["other"]
    assert path.read_bytes() == before


def test_a_finished_sweep_needs_no_data(tmp_path) -> None:
    """Rerunning a finished sweep neither loads the data nor checks the device."""
    plan = make_plan(dataclasses.replace(CONFIG, epochs=1), SCHEDULES[:1], [0])
    with RunStore(tmp_path / "r.sqlite") as store:
        run_sweep(store, plan)
        outcome = run_sweep(store, plan, data_root="/no/such/folder", device="cuda:99")
        assert (outcome.skipped, outcome.started) == (1, 0)


def test_a_symlink_to_the_store_takes_the_same_lock(tmp_path) -> None:
    plan = make_plan(dataclasses.replace(CONFIG, epochs=1), SCHEDULES[:1], [0])
    real, link = tmp_path / "real.sqlite", tmp_path / "link.sqlite"
    RunStore(real).close()
    link.symlink_to(real)
    (tmp_path / "sub").mkdir()
    relative = os.path.relpath(real, tmp_path / "sub")  # another spelling of the same file
    with RunStore(link) as via_link, RunStore(real) as store:
        with exclusive(via_link), pytest.raises(ValueError, match="is in use by another sweep"):
            run_sweep(store, plan)
        assert store.runs() == []
    cwd = os.getcwd()
    os.chdir(tmp_path / "sub")
    try:
        with (
            RunStore(relative) as other,
            RunStore(link) as via_link,
            exclusive(other),
            pytest.raises(ValueError, match="is in use by another sweep"),
        ):
            run_sweep(via_link, plan)
    finally:
        os.chdir(cwd)
