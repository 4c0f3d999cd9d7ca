"""ScheduleLR and PlateauLR where users put schedulers: PyTorch Lightning and the HF Trainer."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import schedlab
from schedlab.adapters.torch import PlateauLR, ScheduleLR

SPEC = "warmup(cosine(lr=0.05, steps=20, min_lr=0.001), steps=4)"


def tiny_data(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])


@pytest.fixture(scope="module")
def lightning():
    pl = pytest.importorskip("pytorch_lightning")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return pl


def lightning_module(pl, configure, scores=None):
    """A tiny module; ``scores[e]`` (if given) is logged as ``"score"`` in epoch ``e``."""

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)
            self.seen: list[float] = []
            self.epoch_lrs: list[float] = []

        def training_step(self, batch, _):
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            if scores is not None:
                score = torch.tensor(scores[self.current_epoch])
                self.log("score", score, on_step=False, on_epoch=True)
            return loss

        def on_before_optimizer_step(self, optimizer) -> None:
            self.seen.append(optimizer.param_groups[0]["lr"])

        def on_train_epoch_start(self) -> None:
            self.epoch_lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            return configure(opt)

    return Tiny()


def fit(pl, module, epochs: int) -> None:
    x, y = tiny_data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)


def test_lightning_configure_optimizers_step_interval(lightning) -> None:
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": ScheduleLR(opt, SPEC), "interval": "step"},
        },
    )
    fit(lightning, module, epochs=3)  # 4 batches per epoch: 12 optimizer steps
    assert module.seen == schedlab.from_spec(SPEC)(np.arange(12)).tolist()


def test_lightning_epoch_schedule_applied_per_step(lightning) -> None:
    epoch_spec = "step(lr=0.05, step_size=1, gamma=0.5)"  # written in epochs
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": ScheduleLR(
                    opt, epoch_spec, unit="epoch", steps_per_epoch=4, within_epoch="continuous"
                ),
                "interval": "step",
            },
        },
    )
    fit(lightning, module, epochs=2)
    assert module.seen == schedlab.from_spec(epoch_spec)(np.arange(8) / 4).tolist()


def test_lightning_plateau_gets_the_monitored_metric(lightning) -> None:
    plateau = schedlab.Plateau(0.05, patience=0, factor=0.5, threshold=0.5)
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": PlateauLR(opt, plateau), "monitor": "train_loss"},
        },
    )
    fit(lightning, module, epochs=4)
    assert plateau.state_dict()["updates"] == 4  # Lightning passed train_loss once per epoch
    assert module.epoch_lrs[0] == 0.05 and min(module.epoch_lrs) < 0.05  # and the rate reacted
    assert module.seen == [lr for lr in module.epoch_lrs for _ in range(4)]


def test_hugging_face_trainer(tmp_path) -> None:
    transformers = pytest.importorskip("transformers")
    logging.getLogger("transformers").setLevel(logging.ERROR)

    class Record(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            self.seen.append(optimizer.param_groups[0]["lr"])

    x, y = tiny_data()
    data = [{"x": x[i], "labels": y[i]} for i in range(len(x))]
    model = Regressor()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    sched = ScheduleLR(opt, SPEC)
    record = Record()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=10,
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, optimizers=(opt, sched), callbacks=[record]
    )
    trainer.train()
    values = schedlab.from_spec(SPEC)(np.arange(11)).tolist()
    assert record.seen == values[:10]  # the rate each optimizer step used
    logged = [e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e]
    assert logged == values[:10]  # HF logs get_last_lr() of the step, read before stepping


# --- hardening: plateau warmup per step, non-finite metrics, interval mismatch ---------------

WARMUP = schedlab.linear(0.0, 0.05, steps=6)


def test_lightning_plateau_with_a_per_step_warmup(lightning) -> None:
    """Lightning never calls step() without the metric: the optimizer's steps advance the warmup."""
    plateau = schedlab.Plateau(0.05, patience=0, factor=0.5, warmup_steps=6, warmup_unit="step")
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": PlateauLR(opt, plateau), "monitor": "score"},
        },
        scores=[1.0] * 4,
    )
    fit(lightning, module, epochs=4)  # 4 optimizer steps per epoch
    # epoch 0's score is seen during the warmup (sets best); epochs 1 and 2 are bad (patience 0)
    assert module.seen == [*WARMUP(np.arange(6)), 0.05, 0.05, *[0.025] * 4, *[0.0125] * 4]


def test_lightning_non_finite_metric_is_no_improvement(lightning) -> None:
    scores = [1.0, math.nan, 0.5, math.nan, math.nan, 0.5]
    plateau = schedlab.Plateau(0.05, patience=1, factor=0.5)
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": PlateauLR(opt, plateau), "monitor": "score"},
        },
        scores=scores,
    )
    with pytest.warns(RuntimeWarning, match="metric is nan; counted as no improvement") as caught:
        fit(lightning, module, epochs=len(scores))
    assert any("the rate is reduced from 0.05 to 0.025" in str(w.message) for w in caught)
    assert module.epoch_lrs == reference_plateau_rates(0.05, scores, patience=1, factor=0.5)
    assert module.epoch_lrs[-1] == 0.025  # the two NaN epochs in a row reduced the rate


def reference_plateau_rates(lr: float, scores, **kw) -> list[float]:
    """The rate of each epoch under torch's ReduceLROnPlateau fed ``scores`` after each epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for score in scores:
        out.append(opt.param_groups[0]["lr"])
        ref.step(score)
    return out


def test_lightning_epoch_interval_with_a_step_schedule_warns(lightning) -> None:
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": ScheduleLR(opt, SPEC), "interval": "epoch"},
        },
    )
    with pytest.warns(UserWarning, match="interval='epoch', unit='step', steps_per_epoch=4"):
        fit(lightning, module, epochs=2)
    module = lightning_module(
        lightning,
        lambda opt: {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": ScheduleLR(
                    opt, SPEC, interval="epoch", unit="step", steps_per_epoch=4
                ),
                "interval": "epoch",
            },
        },
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="ScheduleLR")
        fit(lightning, module, epochs=3)
    values = schedlab.from_spec(SPEC)(np.arange(3) * 4).tolist()
    assert module.seen == [v for v in values for _ in range(4)]


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)

    def forward(self, x, labels=None):
        out = self.net(x)
        return {"loss": nn.functional.mse_loss(out, labels), "logits": out}


def hf_train_plateau(tmp_path, plateau, scores, epochs: int) -> list[float]:
    """Train with the HF Trainer (4 steps per epoch, evaluation each epoch whose "score" is
    ``scores[e]``); return the rate each optimizer step used."""
    transformers = pytest.importorskip("transformers")
    logging.getLogger("transformers").setLevel(logging.ERROR)

    class Record(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            self.seen.append(optimizer.param_groups[0]["lr"])

    x, y = tiny_data(16)
    data = [{"x": x[i], "labels": y[i]} for i in range(len(x))]
    model = Regressor()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    record = Record()
    pending = iter(scores)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=epochs,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=16,
        eval_strategy="epoch",
        metric_for_best_model="score",
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=data,
        eval_dataset=data,
        optimizers=(opt, PlateauLR(opt, plateau)),
        callbacks=[record],
        compute_metrics=lambda _: {"score": next(pending)},
    )
    trainer.train()
    return record.seen


def test_hugging_face_plateau_with_a_per_step_warmup(tmp_path) -> None:
    plateau = schedlab.Plateau(0.05, patience=0, factor=0.5, warmup_steps=6, warmup_unit="step")
    seen = hf_train_plateau(tmp_path, plateau, [1.0, 1.0, 1.0], epochs=3)
    assert seen == [*WARMUP(np.arange(6)), 0.05, 0.05, *[0.025] * 4]


def test_hugging_face_non_finite_metric_is_no_improvement(tmp_path) -> None:
    scores = [1.0, math.nan, 0.5, math.nan]
    with pytest.warns(RuntimeWarning, match="metric is nan; counted as no improvement") as caught:
        seen = hf_train_plateau(tmp_path, schedlab.Plateau(0.05, patience=0), scores, epochs=4)
    assert any("the rate is reduced from 0.05 to" in str(w.message) for w in caught)
    per_epoch = reference_plateau_rates(0.05, scores, patience=0)
    assert seen == [lr for lr in per_epoch for _ in range(4)]
    assert per_epoch == pytest.approx([0.05, 0.05, 0.005, 0.005])  # NaN reduced the rate
