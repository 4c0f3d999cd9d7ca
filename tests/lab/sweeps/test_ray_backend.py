"""The Ray backend against a REAL local Ray cluster (2 CPUs): same results as the local backend,
a worker SIGKILLed mid-run is retried from the store's checkpoint (nothing lost or duplicated),
and a sweep resumes across backends (local -> Ray and Ray -> local)."""

from __future__ import annotations

import itertools
import os
import signal

import numpy as np
import psutil
import pytest
import torch

from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.sweeps.backends import LocalBackend, make_backend
from schedlab.lab.sweeps.backends.ray import TASK_NAME, RayBackend
from schedlab.lab.train.config import TrainConfig

ray = pytest.importorskip("ray")
torch.set_num_threads(1)

EPOCHS = 5
CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=EPOCHS, batch_size=32, train_size=400,
                     momentum=0.9)  # fmt: skip
SCHEDULES = ["const=constant(0.05)", "cos=cosine(lr=0.1, steps=5)", "plateau(lr=0.1, patience=0)"]
PLAN = make_plan(CONFIG, SCHEDULES, [0, 1], name="ray-test")
FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep on the local backend, in one go."""
    with RunStore(tmp_path_factory.mktemp("local") / "runs.sqlite") as store:
        run_sweep(store, PLAN, group_size=6)
        yield _snapshot(store)


def _snapshot(store: RunStore) -> dict:
    """(label, seed) -> (status, attempts, epoch rows, step rates) of every run of the plan."""
    return {
        (r.label, r.seed): (r.status, r.attempts, store.epochs(r.id),
                                  store.step_lrs(r.id))
        for r in store.runs(PLAN.name)
    }  # fmt: skip


def _assert_same_training(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, (status, _, epochs, lrs) in want.items():
        assert got[key][0] == status == "finished", key
        assert [e.epoch for e in got[key][2]] == list(range(EPOCHS)), key  # each once, in order
        for a, b in zip(got[key][2], epochs, strict=True):
            for field in FIELDS:
                assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-5, abs=1e-6), (
                    key,
                    field,
                )
        np.testing.assert_array_equal(got[key][3], lrs)


class Stop(Exception):
    """Raised by a progress callback: the driver stops mid-sweep, as after Ctrl-C."""


def _stop_after_first_epoch(done: int, total: int) -> None:
    if done > 0:
        raise Stop


def test_ray_sweep_equals_local(cluster, reference, tmp_path) -> None:
    seen: list[tuple[int, int]] = []
    with RunStore(tmp_path / "runs.sqlite") as store:
        outcome = run_sweep(store, PLAN, group_size=6, backend=RayBackend(workers=2),
                            progress=lambda d, t: seen.append((d, t)))  # fmt: skip
        assert (outcome.started, outcome.epochs_trained) == (6, 6 * EPOCHS)
        got = _snapshot(store)
    _assert_same_training(got, reference)
    assert [a for _, a, _, _ in got.values()] == [1] * 6
    # two workers: the 6 runs were split into two groups of 3, each committing 3 per epoch
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)
    assert {b - a for (a, _), (b, _) in itertools.pairwise(seen)} == {3}


def _kill_a_group_worker(killed: list[int]):
    def progress(done: int, total: int) -> None:
        if done == 0 or killed:
            return
        workers = [p for p in psutil.process_iter(["name", "cmdline"])
                   if (p.info["cmdline"] or [""])[0] == f"ray::{TASK_NAME}"]  # fmt: skip
        assert workers, "no Ray worker is running a group"
        os.kill(workers[0].pid, signal.SIGKILL)
        killed.append(workers[0].pid)

    return progress


def test_worker_killed_mid_run_is_retried_without_loss_or_duplicates(
    cluster, reference, tmp_path
) -> None:
    killed: list[int] = []
    backend = RayBackend(workers=2, backpressure=1)  # a task is never more than 1 epoch ahead
    with RunStore(tmp_path / "runs.sqlite") as store:
        outcome = run_sweep(store, PLAN, group_size=6, backend=backend,
                            progress=_kill_a_group_worker(killed))  # fmt: skip
        got = _snapshot(store)
    assert len(killed) == 1
    # the killed group (3 runs) was restarted once from its last committed checkpoint
    assert sorted(a for _, a, _, _ in got.values()) == [1, 1, 1, 2, 2, 2]
    assert outcome.epochs_trained == 6 * EPOCHS  # no epoch trained (committed) twice
    _assert_same_training(got, reference)


@pytest.mark.parametrize(("first", "then"), [("local", "ray"), ("ray", "local")])
def test_resume_across_backends(cluster, reference, tmp_path, first: str, then: str) -> None:
    backends = {"local": None, "ray": RayBackend(workers=2)}
    with RunStore(tmp_path / "runs.sqlite") as store:
        with pytest.raises(Stop):
            run_sweep(store, PLAN, group_size=3, backend=backends[first],
                      progress=_stop_after_first_epoch)  # fmt: skip
        part = store.runs(PLAN.name)
        assert any(r.epochs_done >= 1 for r in part)
        assert all(r.status in ("pending", "running") for r in part)
        assert all(store.checkpoint(r.id)[0] == r.epochs_done
                   for r in part if r.epochs_done)  # fmt: skip
        outcome = run_sweep(store, PLAN, group_size=3, backend=backends[then])
        assert outcome.resumed == sum(1 for r in part if r.epochs_done >= 1) > 0
        assert outcome.epochs_trained == sum(EPOCHS - r.epochs_done for r in part)
        got = _snapshot(store)
    _assert_same_training(got, reference)


def test_training_error_in_a_task_fails_its_runs(cluster, tmp_path) -> None:
    import dataclasses

    from schedlab.lab.data.datasets import load_dataset

    config = TrainConfig(dataset="digits", epochs=1, train_size=100)
    plan = make_plan(config, ["constant(0.1)"], [0], name="bad")
    data = load_dataset("digits", train_size=100)
    broken = dataclasses.replace(data, input_shape=(1, 4, 4))  # the model will not take the data
    with RunStore(tmp_path / "runs.sqlite") as store:
        with pytest.raises(RuntimeError):
            run_sweep(store, plan, backend=RayBackend(workers=1), dataset=broken)
        assert [r.status for r in store.runs("bad")] == ["failed"]


def test_a_bad_setting_is_refused_before_the_cluster_sees_it(cluster, tmp_path) -> None:
    bad = TrainConfig(dataset="digits", model="linear", loss="mse", epochs=1, train_size=100)
    plan = make_plan(bad, ["constant(0.1)"], [0], name="bad")
    with RunStore(tmp_path / "runs.sqlite") as store:
        with pytest.raises(ValueError, match="loss must be 'cross_entropy' for a classification"):
            run_sweep(store, plan, backend=RayBackend(workers=1))
        assert store.runs() == [] and store.sweeps() == []


def test_backend_choice_and_bad_arguments() -> None:
    assert isinstance(make_backend("local"), LocalBackend)
    assert isinstance(make_backend("ray", address="auto", workers=3), RayBackend)
    with pytest.raises(ValueError, match="backend must be one of local, ray; got 'dask'"):
        make_backend("dask")
    with pytest.raises(ValueError, match="takes no --address or --ray-workers"):
        make_backend("local", workers=2)
    with pytest.raises(ValueError, match="workers must be an integer >= 1; got 0"):
        RayBackend(workers=0)
    with pytest.raises(ValueError, match="max_retries must be an integer >= 0; got -1"):
        RayBackend(max_retries=-1)
    with pytest.raises(ValueError, match="address must be 'auto'"):
        RayBackend("")


def test_cli_compare_on_ray(cluster, reference, tmp_path) -> None:
    from typer.testing import CliRunner

    import schedlab.cli.lab_commands  # noqa: F401  (registers the commands)
    from schedlab.cli import app

    args = ["compare", "--dataset", "digits", "--model", "mlp", "--momentum", "0.9",
            "--epochs", str(EPOCHS), "--batch-size", "32", "--train-size", "400", "--seeds", "0,1",
            "--name", PLAN.name, "--store", str(tmp_path / "runs.sqlite"), "--out",
            str(tmp_path / "out"), "--no-report", "--backend", "ray", "--ray-workers", "2",
            *[f"--schedule={s}" for s in SCHEDULES]]  # fmt: skip
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "(0 already done, 0 resumed, 6 started)" in result.output
    with RunStore(tmp_path / "runs.sqlite") as store:
        _assert_same_training(_snapshot(store), reference)
