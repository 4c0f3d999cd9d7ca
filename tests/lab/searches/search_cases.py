"""The tiny search the search tests share: three families on ``digits``, 6 epochs in rungs of 2
and 6, three candidates per family, two seeds at the end."""

from __future__ import annotations

from schedlab.lab.train.config import TrainConfig

FAMILIES = {
    "const": "constant(?)",
    "wsd": "wsd(lr=?, steps=E, decay_steps=0.2*E)",
    "cos": "cosine(lr=?, steps=E)",
}
RANGES = {"lr": "loguniform(1e-2, 1)"}
CONFIG = TrainConfig(
    dataset="digits", model="mlp", optimizer="sgd", momentum=0.9, epochs=6, batch_size=32,
    train_size=300, unit="step",
)  # fmt: skip
SEARCH = {"trials": 3, "eta": 3, "rungs": (2, 6), "name": "tiny"}
SEEDS = (0, 1)
