"""ScheduleLR and PlateauLR where users put schedulers: PyTorch Lightning and the HF Trainer."""

from __future__ import annotations

import logging

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


def lightning_module(pl, configure):
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

    class Regressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 1)

        def forward(self, x, labels=None):
            out = self.net(x)
            return {"loss": nn.functional.mse_loss(out, labels), "logits": out}

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
