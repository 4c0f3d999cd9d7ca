"""``run_trials``: the user's own training function (PyTorch, Keras) under schedules x seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from schedlab.errors import ConfigError
from schedlab.lab import run_trials
from schedlab.lab.runs.store import RunStore

G = torch.Generator().manual_seed(0)
X = torch.randn(96, 6, generator=G)
Y = (X[:, 0] > 0).long()
SCHEDULES = {"const": "constant(0.1)", "cos": "cosine(0.3, 3)"}
BATCH, SPE = 32, 3


def torch_train(trial) -> None:
    """The loop a user writes, with a checkpoint so a rerun continues."""
    torch.manual_seed(trial.seed)
    net = nn.Linear(6, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = trial.torch_scheduler(opt, steps_per_epoch=SPE)
    saved = trial.restore()
    if saved is not None:
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
    order = torch.Generator().manual_seed(trial.seed)
    for epoch in range(trial.start_epoch, trial.epochs):
        perm = torch.randperm(96, generator=order)
        for lo in range(0, 96, BATCH):
            idx = perm[lo : lo + BATCH]
            opt.zero_grad()
            F.cross_entropy(net(X[idx]), Y[idx]).backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            out = net(X)
        trial.checkpoint({"net": net.state_dict(), "opt": opt.state_dict()})
        trial.report(
            epoch, val_loss=F.cross_entropy(out, Y).item(),
            val_acc=(out.argmax(1) == Y).float().mean().item(), margin=out.abs().mean().item(),
        )  # fmt: skip


def test_trials_are_stored_ranked_and_never_rerun(tmp_path) -> None:
    store = tmp_path / "t.sqlite"
    result = run_trials(torch_train, schedules=SCHEDULES, seeds=2, epochs=3, store=store,
                        progress=False)  # fmt: skip
    assert sorted(result.ranking.labels) == ["const", "cos"]
    assert {r.status for r in result.runs} == {"finished"} and len(result.runs) == 4
    with RunStore(store) as s:
        cos = next(r for r in s.runs() if r.label == "cos")
        rates = s.step_lrs(cos.id)  # the schedule's rate at every step, stored
        np.testing.assert_allclose(rates[::SPE], [0.3, 0.225, 0.075])
        assert "val_margin" in s.epochs(cos.id)[-1].extra
    again = run_trials(torch_train, schedules=SCHEDULES, seeds=2, epochs=3, store=store,
                       progress=False)  # fmt: skip
    assert (again.outcome.skipped, again.outcome.started) == (4, 0)


def test_an_interrupted_trial_continues_from_its_checkpoint(tmp_path) -> None:
    store = tmp_path / "t.sqlite"
    calls = []

    def flaky(trial) -> None:
        calls.append((trial.label, trial.seed, trial.start_epoch))
        if trial.label == "cos" and trial.start_epoch == 0:

            def stop_after_two(epoch, **metrics):
                real(epoch, **metrics)
                if epoch == 1:
                    raise KeyboardInterrupt

            real, trial.report = trial.report, stop_after_two
        torch_train(trial)

    with pytest.raises(KeyboardInterrupt):
        run_trials(flaky, schedules={"cos": "cosine(0.3, 3)"}, seeds=1, epochs=3, store=store,
                   progress=False)  # fmt: skip
    with RunStore(store) as s:
        (row,) = s.runs()
        assert (row.status, row.epochs_done) == ("running", 2)
    resumed = run_trials(flaky, schedules={"cos": "cosine(0.3, 3)"}, seeds=1, epochs=3,
                         store=store, progress=False)  # fmt: skip
    assert calls[-1] == ("cos", 0, 2) and resumed.outcome.resumed == 1
    fresh = run_trials(torch_train, schedules={"cos": "cosine(0.3, 3)"}, seeds=1, epochs=3,
                       store=tmp_path / "fresh.sqlite", progress=False)  # fmt: skip
    assert resumed.ranking[0].final.mean == pytest.approx(fresh.ranking[0].final.mean, abs=1e-6)


def test_parallel_workers_equal_one_process(tmp_path) -> None:
    one = run_trials(torch_train, schedules=SCHEDULES, seeds=2, epochs=2,
                     store=tmp_path / "a.sqlite", progress=False)  # fmt: skip
    two = run_trials(torch_train, schedules=SCHEDULES, seeds=2, epochs=2, workers=2,
                     store=tmp_path / "b.sqlite", progress=False)  # fmt: skip
    for a, b in zip(one.ranking, two.ranking, strict=True):
        assert a.label == b.label and a.final.mean == pytest.approx(b.final.mean, abs=1e-7)


def keras_train(trial) -> None:
    import keras

    keras.utils.set_random_seed(trial.seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    lr = trial.keras_schedule(steps_per_epoch=SPE)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trial.report(epoch, train_loss=logs["loss"], val_loss=logs["val_loss"],
                         val_acc=logs["val_accuracy"])  # fmt: skip

    x, y = X.numpy(), Y.numpy()
    model.fit(x, y, batch_size=BATCH, epochs=trial.epochs, validation_data=(x, y), verbose=0,
              shuffle=False, callbacks=[Report()])  # fmt: skip


def test_keras_trials(tmp_path) -> None:
    result = run_trials(keras_train, schedules=SCHEDULES, seeds=1, epochs=2,
                        store=tmp_path / "k.sqlite", progress=False)  # fmt: skip
    assert {r.status for r in result.runs} == {"finished"}
    assert all(math.isfinite(r.final.mean) for r in result.ranking)


def test_a_function_that_stops_early_fails_with_a_clear_error(tmp_path) -> None:
    def short(trial) -> None:
        trial.report(0, val_loss=1.0)

    with pytest.raises(ConfigError, match="returned after reporting 1 of 3 epochs"):
        run_trials(short, schedules=["constant(0.1)"], seeds=1, epochs=3,
                   store=tmp_path / "s.sqlite", progress=False)  # fmt: skip
    with RunStore(tmp_path / "s.sqlite") as s:
        assert s.runs()[0].status == "failed"


def test_divergence_may_stop_a_trial(tmp_path) -> None:
    def blows_up(trial) -> None:
        trial.report(0, val_loss=math.nan)

    result = run_trials(blows_up, schedules=["constant(10.0)"], seeds=1, epochs=3,
                        store=tmp_path / "d.sqlite", progress=False)  # fmt: skip
    assert result.runs[0].status == "diverged" and result.ranking[0].diverged == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"unit": "batch"}, "unit"),
        ({"workers": 0}, "workers"),
        ({"config": {"f": object()}}, "config must be JSON"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match) -> None:
    args = dict(schedules=["constant(0.1)"], seeds=1, epochs=2, store=tmp_path / "x.sqlite")
    with pytest.raises(ConfigError, match=match):
        run_trials(torch_train, **{**args, **kwargs})
