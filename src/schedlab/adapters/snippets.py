"""Copy-paste code that trains with a given schedule in each framework schedlab drives.

:func:`snippets` writes, for one spec, the lines a user pastes into a PyTorch loop
(``ScheduleLR``), a Hugging Face ``Trainer``, a Lightning module, Keras and optax.  A
``schedule_free(...)`` spec becomes the schedule-free optimizer of each framework instead
(``schedulefree`` for PyTorch, Lightning and Hugging Face's ``optim="schedule_free_*"``,
``optax.contrib.schedule_free_*``; Keras has none), with its ``train()``/``eval()`` switching.

The snippets name what they do not know: ``model``, ``loader`` (or ``train_dataset``),
``loss_fn`` and ``EPOCHS`` (the number of epochs the schedule was chosen for).  Text only: no
framework is imported here.

>>> print(snippets("cosine(lr=0.1, steps=1000)")["pytorch"].splitlines()[3])
scheduler = ScheduleLR(optimizer, 'cosine(lr=0.1, steps=1000, min_lr=0.0)')  # t counts optimizer steps
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.schedules.spec import from_spec

FRAMEWORKS: tuple[str, ...] = ("pytorch", "huggingface", "lightning", "keras", "optax")


def _optimizer(name: str) -> tuple[str, str, str]:
    """``(torch class, its extra kwargs, keras/optax name)`` for the setup's optimizer name."""
    low = name.lower()
    if low == "adamw":
        return "torch.optim.AdamW", "", "adamw"
    if low.startswith("adam"):
        return "torch.optim.Adam", "", "adam"
    return "torch.optim.SGD", ", momentum=0.9", "sgd"


def snippets(
    spec: Any,
    *,
    unit: str = "step",
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
    optimizer: str = "sgd",
) -> dict[str, str]:
    """``{"spec", "pytorch", "huggingface", "lightning", "keras", "optax"}`` for ``spec``.

    ``unit``: what the schedule's ``t`` counts (``"step"``, or ``"epoch"`` with
    ``steps_per_epoch``); ``epochs``: the run length it was chosen for (shown as ``EPOCHS``);
    ``optimizer``: the optimizer it was tuned with (``sgd``, ``adam``, ``AdamW``, ...).
    """
    schedule = from_spec(spec)
    if unit not in ("step", "epoch"):
        raise ConfigError(f"snippets: unit must be 'step' or 'epoch'; got {unit!r}")
    if unit == "epoch" and not steps_per_epoch:
        raise ConfigError("snippets: unit='epoch' needs steps_per_epoch")
    text = repr(schedule)
    out = {"spec": text}
    if schedule.kind == "schedule_free":
        out.update(_free(schedule, unit, steps_per_epoch, epochs, optimizer))
    else:
        out.update(_scheduled(text, unit, steps_per_epoch, epochs, optimizer))
    return out


def _peak(schedule: Any) -> float:
    """The largest rate of ``schedule`` over its horizon (the first 100,000 steps at most)."""
    horizon = schedule.horizon
    n = int(min(horizon + 1, 100_000)) if horizon is not None else 100_000
    return float(np.max(schedule(np.arange(max(n, 1)))))


def _units(unit: str, spe: int | None) -> tuple[str, str, str]:
    """(ScheduleLR/KerasSchedule/to_optax extra arguments, comment, HF note)."""
    if unit == "epoch":
        return (f', unit="epoch", steps_per_epoch={spe}',
                f"t counts epochs ({spe} optimizer steps each)", "")  # fmt: skip
    return "", "t counts optimizer steps", ""


def _scheduled(
    text: str, unit: str, spe: int | None, epochs: int | None, opt: str
) -> dict[str, str]:
    torch_cls, extra, short = _optimizer(opt)
    args, comment, _ = _units(unit, spe)
    peak = _peak(from_spec(text))
    n = epochs or "EPOCHS"
    pytorch = f"""import torch
from schedlab.adapters.torch import ScheduleLR
optimizer = {torch_cls}(model.parameters(), lr={peak!r}{extra})  # lr: set by the schedule
scheduler = ScheduleLR(optimizer, {text!r}{args})  # {comment}
for epoch in range({n}):
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        scheduler.step()  # once per optimizer step
"""
    hf = f"""import torch
from transformers import Trainer, TrainingArguments
from schedlab.adapters.torch import ScheduleLR
optimizer = {torch_cls}(model.parameters(), lr={peak!r}{extra})
scheduler = ScheduleLR(optimizer, {text!r}{args})  # {comment}
trainer = Trainer(
    model=model, args=TrainingArguments(output_dir="out", num_train_epochs={n}),
    train_dataset=train_dataset, optimizers=(optimizer, scheduler),
)
trainer.train()
"""
    lightning = f"""import torch
from schedlab.adapters.torch import ScheduleLR

# in your LightningModule:
def configure_optimizers(self):
    optimizer = {torch_cls}(self.parameters(), lr={peak!r}{extra})
    scheduler = ScheduleLR(optimizer, {text!r}{args})  # {comment}
    return {{"optimizer": optimizer, "lr_scheduler": {{"scheduler": scheduler, "interval": "step"}}}}
"""
    keras_opt = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[short]
    keras_extra = ", momentum=0.9" if short == "sgd" else ""
    keras = f"""import keras
from schedlab.adapters.keras import KerasSchedule
schedule = KerasSchedule({text!r}{args})  # {comment}
optimizer = keras.optimizers.{keras_opt}(learning_rate=schedule{keras_extra})
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
model.fit(x_train, y_train, epochs={n})
"""
    optax_extra = ", momentum=0.9" if short == "sgd" else ""
    optax = f"""import optax
from schedlab.adapters.optax import to_optax
schedule = to_optax({text!r}{args})  # {comment}; jit-traceable
tx = optax.{short}(learning_rate=schedule{optax_extra})
opt_state = tx.init(params)
"""
    return {"pytorch": pytorch, "huggingface": hf, "lightning": lightning, "keras": keras,
            "optax": optax}  # fmt: skip


def _free(
    schedule: Any, unit: str, spe: int | None, epochs: int | None, opt: str
) -> dict[str, str]:
    inner = schedule.params["schedule"]
    r, power = schedule.params["r"], schedule.params["weight_lr_power"]
    _, _, short = _optimizer(opt)
    sgd = short == "sgd"
    cls = "SGDScheduleFree" if sgd else "AdamWScheduleFree"
    extra = ", momentum=0.9" if sgd else ""
    flat = inner.kind == "constant"
    peak = inner.params["lr"] if flat else _peak(inner)
    args, comment, _ = _units(unit, spe)
    n = epochs or "EPOCHS"
    options = f", r={r!r}" * (r != 0.0) + f", weight_lr_power={power!r}" * (power != 2.0)
    sched_line = (
        "" if flat else f"scheduler = ScheduleLR(optimizer, {repr(inner)!r}{args})  # {comment}\n"
    )
    sched_import = "" if flat else "from schedlab.adapters.torch import ScheduleLR\n"
    step_line = "" if flat else "        scheduler.step()\n"
    pytorch = f"""import schedulefree
{sched_import}optimizer = schedulefree.{cls}(model.parameters(), lr={peak!r}{extra}{options})
{sched_line}for epoch in range({n}):
    model.train()
    optimizer.train()  # before training steps
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
{step_line}    model.eval()
    optimizer.eval()  # evaluate and save at the averaged weights
    # with BatchNorm: recompute its statistics here (model.train(); a few batches under
    # torch.no_grad(); model.eval()), as schedulefree's README says
"""
    hf_name = "schedule_free_sgd" if sgd else "schedule_free_adamw"
    warm = "" if flat else "  # the warmup/ramp of your schedule: warmup_steps=..."
    hf = f"""from transformers import Trainer, TrainingArguments
args = TrainingArguments(
    output_dir="out", num_train_epochs={n}, learning_rate={peak!r},
    optim="{hf_name}", lr_scheduler_type="constant",{warm}
)
trainer = Trainer(model=model, args=args, train_dataset=train_dataset)
trainer.train()  # the Trainer switches the optimizer's train()/eval() modes itself
"""
    lightning = f"""import schedulefree

# in your LightningModule:
def configure_optimizers(self):
    return schedulefree.{cls}(self.parameters(), lr={peak!r}{extra}{options})

def on_train_epoch_start(self):
    self.optimizers().optimizer.train()

def on_validation_epoch_start(self):
    self.optimizers().optimizer.eval()

def on_save_checkpoint(self, checkpoint):
    self.optimizers().optimizer.eval()
"""
    keras = """# Keras 3 has no schedule-free optimizer. The nearest schedule the search also tried is
# its best constant-rate or WSD member (see the report); or train with PyTorch/optax here.
"""
    optax_fn = "schedule_free_sgd" if sgd else "schedule_free_adamw"
    sched = repr(peak) if flat else f"to_optax({repr(inner)!r}{args})"
    optax_import = "" if flat else "from schedlab.adapters.optax import to_optax\n"
    optax = f"""import optax
{optax_import}tx = optax.contrib.{optax_fn}(learning_rate={sched}, b1=0.9, weight_lr_power={power!r})
opt_state = tx.init(params)
# ... train with tx.update(grads, opt_state, params) ...
eval_params = optax.contrib.schedule_free_eval_params(opt_state, params)  # evaluate these
"""
    return {"pytorch": pytorch, "huggingface": hf, "lightning": lightning, "keras": keras,
            "optax": optax}  # fmt: skip
