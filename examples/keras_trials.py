"""Your own Keras training loop under every schedule x seed: ``schedlab.lab.run_trials``.

    KERAS_BACKEND=torch python examples/keras_trials.py   # PYTHONPATH=src from a checkout

Run time: 10 min 8 s wall on 2 CPU cores (AMD EPYC VM, 2026-12-02), niced, while other
jobs kept the load average near 10 (so an idle machine takes much less); 188 s of CPU time.
``SCHEDLAB_EXAMPLE_SMOKE=1`` shrinks it to seconds (tests/examples runs it so).

``train(trial)`` is the script a Keras user already has -- build, compile, ``fit`` -- with three
changes: the optimizer's ``learning_rate`` is ``trial.keras_schedule(steps_per_epoch=...)``, each
epoch ends with ``trial.report(epoch, ...)`` (stored at once), and a checkpoint (the ``.keras``
file's bytes: weights, optimizer state, its step counter) goes with each report, so an interrupted
sweep continues after the last stored epoch (``trial.start_epoch``, ``trial.restore()``).
Finished trials are never rerun.  The result is ranked and reported as ``compare``'s is.

Any backend works (``KERAS_BACKEND=jax`` or ``tensorflow`` where installed); the data is 6,000
Fashion-MNIST images (20% held out for validation), flattened, for a 784-128-10 MLP with dropout.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

from schedlab.lab import load_dataset, run_trials

SMOKE = os.environ.get("SCHEDLAB_EXAMPLE_SMOKE") == "1"
TRAIN_SIZE = 200 if SMOKE else 6000
EPOCHS = 2 if SMOKE else 5
SEEDS = 1 if SMOKE else 2
BATCH = 64

DS = load_dataset("fashion-mnist", train_size=TRAIN_SIZE, val_fraction=0.2, seed=0)
X_TRAIN, Y_TRAIN = DS.x_train.reshape(len(DS.x_train), -1), DS.y_train
X_VAL, Y_VAL = DS.x_val.reshape(len(DS.x_val), -1), DS.y_val


def build() -> keras.Model:
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip


def to_bytes(model: keras.Model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def from_bytes(blob: bytes) -> keras.Model:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(blob)
        return keras.models.load_model(path)  # the schedlab schedule is registered with Keras


def train(trial) -> None:
    """One run: ``trial.schedule`` drives SGD's rate; ``trial.seed`` seeds weights and shuffling."""
    keras.utils.set_random_seed(trial.seed)
    steps_per_epoch = math.ceil(len(Y_TRAIN) / BATCH)
    schedule = trial.keras_schedule(steps_per_epoch=steps_per_epoch)
    saved = trial.restore()
    if saved is None:
        model = build()
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9),
            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        )  # fmt: skip
    else:
        model = from_bytes(saved)  # resumed: weights, momentum and step counter as they were
    for epoch in range(trial.start_epoch, trial.epochs):
        fit = model.fit(
            X_TRAIN, Y_TRAIN, batch_size=BATCH, epochs=epoch + 1, initial_epoch=epoch,
            validation_data=(X_VAL, Y_VAL), verbose=0,
        )  # fmt: skip
        h = {k: v[-1] for k, v in fit.history.items()}
        trial.checkpoint(to_bytes(model))
        trial.report(epoch, train_loss=h["loss"], train_acc=h["accuracy"],
                     val_loss=h["val_loss"], val_acc=h["val_accuracy"])  # fmt: skip


def main() -> None:
    result = run_trials(
        train,
        schedules={
            "constant": "constant(0.05)",
            "step": "step(lr=0.1, step_size=2, gamma=0.3)",
            "cosine": f"cosine(lr=0.1, steps={EPOCHS})",
        },
        seeds=SEEDS,
        epochs=EPOCHS,
        unit="epoch",
        store="runs/keras-trials.sqlite",
        name="keras-mlp-fashion-smoke" if SMOKE else "keras-mlp-fashion",
        config={"train_size": TRAIN_SIZE, "batch": BATCH, "backend": keras.backend.backend()},
    )
    for i, row in enumerate(result.ranking, 1):
        print(f"{i}. {row.label:10s} final {result.ranking.metric} {row.final.mean:.4f}")
    print(f"report: {result.report('out/keras-trials')}")


if __name__ == "__main__":
    main()
