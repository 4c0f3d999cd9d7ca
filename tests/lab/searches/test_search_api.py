"""``schedlab.lab.search`` on the user's own model, data, optimizer and metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from schedlab.errors import ConfigError
from schedlab.lab import search
from schedlab.lab.runs.store import RunStore


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


TRAIN, VAL = _data(0, 128), _data(1, 64)


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 2))


def f1(out: torch.Tensor, y: torch.Tensor) -> float:
    pred = out.argmax(1)
    tp = int(((pred == 1) & (y == 1)).sum())
    return 2 * tp / max(1, int((pred == 1).sum()) + int((y == 1).sum()))


ARGS = dict(
    families={"const": "constant(?)", "cos": "cosine(lr=?, steps=E)"},
    ranges={"lr": "loguniform(1e-2, 1)"}, optimizer=(torch.optim.SGD, {"momentum": 0.9}),
    metrics={"f1": f1}, metric="val_f1:max", seeds=2, epochs=4, batch_size=32, trials=3, eta=3,
    rungs=(2, 4), progress=False, workers=1, name="mine",
)  # fmt: skip


def test_search_on_the_users_model_by_the_users_metric(tmp_path) -> None:
    store = tmp_path / "runs.sqlite"
    result = search(net, TRAIN, VAL, store=store, **ARGS)
    assert result.ranking.metric == "val_f1" and result.ranking.higher_is_better
    assert result.winner is not None and result.winner.family in ("const", "cos")
    assert {f.label for f in result.families} == {"const", "cos"}
    with RunStore(store) as st:
        final = st.runs("mine")
        assert {r.model for r in final} == {"Sequential"} and {r.optimizer for r in final} == {
            "SGD"
        }
        scores = {}
        for r in final:
            scores.setdefault(r.label, []).append(st.epochs(r.id)[-1].extra["val_f1"])
    best = max(scores, key=lambda label: np.mean(scores[label]))
    assert result.ranking[0].label == best  # ranked by the stored val_f1, higher first
    again = search(net, TRAIN, VAL, store=store, **ARGS)
    assert again.trained_now == 0 and again.winner == result.winner


def test_a_metric_the_model_does_not_compute_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="'val_mae' is not one of this task's metrics"):
        search(net, TRAIN, VAL, store=tmp_path / "s.sqlite", **{**ARGS, "metric": "val_mae:min"})
    assert not (tmp_path / "s.sqlite").exists()
