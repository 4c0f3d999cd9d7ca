"""The user's own training setup: model factory, data, loss, metrics and optimizer class.

:class:`UserTask` is the setup the lab trains when the question is about the user's model (the
built-in one is :class:`~schedlab.lab.train.config.TrainConfig`).  :meth:`UserTask.build` checks
everything it can before a single run is stored -- the factory returns an ``nn.Module``, the data
fits the model (shapes reported), the loss returns a finite scalar, the optimizer class takes the
model's parameters and has ``param_groups`` -- and raises one :class:`~schedlab.errors.ConfigError`
or :class:`~schedlab.errors.DataError` naming the argument otherwise.

Run identity: :meth:`UserTask.to_dict` holds a fingerprint of the model (its class and parameter
and buffer shapes), of the data (sizes, dtypes and a sha256 of the content, see
:meth:`~schedlab.lab.data.tensors.Split.fingerprint`), of the optimizer (class and kwargs), the loss
and the metrics, with the epochs, batch size and schedule unit; its hash is part of every run's
identity in the store, so changing any of them makes new runs instead of mixing.

Semantics of run (schedule, seed), whatever the engine: ``torch.manual_seed(seed); net = model()``;
``opt = optimizer(net.parameters(), lr=<the schedule's first rate>, **optimizer_kwargs)``; a
:class:`~schedlab.adapters.torch.ScheduleLR` (``interval="step"``, the task's ``unit``) drives the
rate (a :class:`~schedlab.adapters.torch_plateau.PlateauLR`, stepped with the validation loss
after each epoch, for a plateau spec); the data order of
``DataLoader(train, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))``;
each step ``opt.zero_grad(); loss(net(x), y).backward(); opt.step(); sched.step()``.  After each
epoch the model is evaluated (``net.eval()``, no gradients) on the validation split.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from schedlab.errors import ConfigError, DataError
from schedlab.lab.data.tensors import Split, as_split
from schedlab.lab.train.config import UNITS, Member, json_hash
from schedlab.validate import is_int

ENGINES: tuple[str, ...] = ("auto", "stacked", "per-run")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error; an output of one column per sample is compared with 1-D targets."""
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    return F.mse_loss(output, target.to(output.dtype))


#: the losses known by name (``loss="cross_entropy"``)
LOSSES: dict[str, LossFn] = {"cross_entropy": F.cross_entropy, "mse": mse}


def qualname(obj: Any) -> str:
    """``module.qualname`` of a class or function (its ``repr`` for anything else)."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if module and name:
        return f"{module}.{name}"
    return repr(obj)


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, type) or callable(value):
        return qualname(value)
    return repr(value)


def resolve_loss(loss: Any) -> tuple[str, LossFn]:
    """``(name, callable)`` of a loss given by name or as a callable ``(output, target)``."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigError(
                f"loss must be a callable (output, target) -> scalar or one of "
                f"{', '.join(LOSSES)}; got {loss!r}"
            )
        return loss, LOSSES[loss]
    if not callable(loss):
        raise ConfigError(f"loss must be a callable or one of {', '.join(LOSSES)}; got {loss!r}")
    return qualname(loss), loss


def resolve_optimizer(optimizer: Any) -> tuple[type, dict[str, Any]]:
    """``(class, kwargs)`` from a ``torch.optim``-style class or a ``(class, kwargs)`` pair."""
    cls, kwargs = optimizer, {}
    if isinstance(optimizer, (tuple, list)):
        if len(optimizer) != 2 or not isinstance(optimizer[1], Mapping):
            raise ConfigError(
                f"optimizer must be a class or a (class, kwargs) pair; got {optimizer!r:.200}"
            )
        cls, kwargs = optimizer[0], dict(optimizer[1])
    if not isinstance(cls, type):
        raise ConfigError(
            f"optimizer must be an optimizer class such as torch.optim.AdamW (or a (class, "
            f"kwargs) pair); got {cls!r:.200}"
        )
    if "lr" in kwargs:
        raise ConfigError(
            "optimizer_kwargs: 'lr' is set by each run's schedule; remove it (got "
            f"lr={kwargs['lr']!r})"
        )
    return cls, kwargs


def _metrics(metrics: Any) -> dict[str, Callable]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping) or not all(
        isinstance(k, str) and k.isidentifier() and callable(v) for k, v in metrics.items()
    ):
        raise ConfigError(
            "metrics must map names (identifiers, e.g. 'f1') to callables (output, target) -> "
            f"number; got {metrics!r:.200}"
        )
    reserved = sorted(set(metrics) & {"loss", "acc"})
    if reserved:
        raise ConfigError(
            f"metrics: {', '.join(map(repr, reserved))} are computed already (validation loss, and "
            "accuracy for classification); give other names"
        )
    return dict(metrics)


def _positive(name: str, value: Any) -> int:
    if not (is_int(value) and value > 0):
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def model_fingerprint(net: nn.Module) -> dict[str, Any]:
    """The model's class and the shapes and dtypes of its parameters and buffers."""
    return {
        "class": qualname(type(net)),
        "parameters": {k: list(p.shape) for k, p in net.named_parameters()},
        "buffers": {k: list(b.shape) for k, b in net.named_buffers()},
        "dtypes": sorted({str(t.dtype) for t in [*net.parameters(), *net.buffers()]}),
    }


@dataclass(frozen=True, eq=False)
class UserTask:
    """How every run of a comparison on the user's own model trains (see the module docstring).

    Build it with :meth:`build`, which validates and probes; the fields are then consistent.
    """

    model: Callable[[], nn.Module]
    train: Split
    val: Split
    loss: LossFn
    loss_name: str
    optimizer: type
    optimizer_kwargs: Mapping[str, Any]
    metrics: Mapping[str, Callable]
    epochs: int
    batch_size: int
    unit: str
    classification: bool
    engine: str = "auto"
    workers: int | None = None
    model_name: str = "model"
    data_name: str = "data"
    fingerprint: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        model: Callable[[], nn.Module],
        train: Any,
        val: Any,
        *,
        loss: Any = "cross_entropy",
        optimizer: Any = torch.optim.SGD,
        metrics: Mapping[str, Callable] | None = None,
        epochs: int = 10,
        batch_size: int = 64,
        unit: str = "epoch",
        engine: str = "auto",
        workers: int | None = None,
        model_name: str | None = None,
        data_name: str | None = None,
    ) -> UserTask:
        """Validate the arguments, probe the model on two training samples, fingerprint it all."""
        if isinstance(model, nn.Module):
            raise ConfigError(
                "model must be a zero-argument factory returning a new torch.nn.Module (e.g. "
                f"lambda: {type(model).__name__}(...)), not a module instance"
            )
        if not callable(model):
            raise ConfigError(f"model must be a zero-argument callable; got {model!r:.200}")
        if unit not in UNITS:
            raise ConfigError(f"unit must be one of {', '.join(UNITS)}; got {unit!r}")
        if engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
        if workers is not None:
            _positive("workers", workers)
        epochs, batch_size = _positive("epochs", epochs), _positive("batch_size", batch_size)
        loss_name, loss_fn = resolve_loss(loss)
        opt_cls, opt_kwargs = resolve_optimizer(optimizer)
        metric_fns = _metrics(metrics)
        train_split, val_split = as_split(train, "train"), as_split(val, "val")
        if train_split.sized() and batch_size > len(train_split):
            raise ConfigError(
                f"batch_size ({batch_size}) is larger than the training set ({len(train_split)} "
                "samples): every epoch would be one partial batch"
            )
        net, classification = _probe(
            model, train_split, val_split, loss_fn, loss_name, opt_cls, opt_kwargs, metric_fns
        )
        fingerprint = {
            "model": model_fingerprint(net),
            "train": train_split.fingerprint(),
            "val": val_split.fingerprint(),
            "optimizer": qualname(opt_cls),
            "optimizer_kwargs": _json_value(opt_kwargs),
            "loss": loss_name,
            "metrics": {k: qualname(v) for k, v in sorted(metric_fns.items())},
        }
        return cls(
            model=model, train=train_split, val=val_split, loss=loss_fn, loss_name=loss_name,
            optimizer=opt_cls, optimizer_kwargs=opt_kwargs, metrics=metric_fns, epochs=epochs,
            batch_size=batch_size, unit=unit, classification=classification, engine=engine,
            workers=workers, model_name=model_name or type(net).__name__,
            data_name=data_name or "data-" + json_hash(fingerprint["train"])[:8],
            fingerprint=fingerprint,
        )  # fmt: skip

    # -- the setup protocol (schedlab.lab.train.setup.TrainSetup) ------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The identity of the task (JSON): names for tables, settings and the fingerprint."""
        return {
            "task": "user",
            "dataset": self.data_name,
            "model": self.model_name,
            "optimizer": self.optimizer.__name__,
            "loss": self.loss_name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "unit": self.unit,
            "classification": self.classification,
            "fingerprint": json.loads(json.dumps(self.fingerprint)),
        }

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`."""
        return json_hash(self.to_dict())

    def load_data(self, root: str | None = None) -> UserTask:
        """The task holds its data: it is its own data."""
        return self

    def trainer(
        self,
        data: Any,
        members: Sequence[Member],
        *,
        device: str = "cpu",
        states: Sequence[dict | None] | None = None,
    ) -> Any:
        """The engine for ``members`` (see :func:`schedlab.lab.train.engines.choose_engine`)."""
        from schedlab.lab.train.engines import make_trainer

        return make_trainer(self, members, device=device, states=states)

    # -- helpers the engines share -------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch: ``ceil(train samples / batch_size)`` (a loader factory's
        ``len``)."""
        if self.train.sized():
            return math.ceil(len(self.train) / self.batch_size)
        loader = self.train.loader(torch.Generator().manual_seed(0))  # type: ignore[misc]
        if not hasattr(loader, "__len__"):
            raise ConfigError(
                "train: a loader factory must return a loader with a len() (batches per epoch)"
            )
        return len(loader)


def _first_rate_free(cls: type, params: Any, kwargs: Mapping[str, Any]) -> Any:
    try:
        return cls(params, lr=0.0, **kwargs)
    except TypeError as err:
        if "lr" not in str(err):
            raise ConfigError(f"optimizer {qualname(cls)}: {err}") from None
        raise ConfigError(
            f"optimizer {qualname(cls)} takes no 'lr' argument: the lab sets each run's rate "
            "through it (as ScheduleLR does)"
        ) from None


def _probe(
    model: Callable[[], nn.Module],
    train: Split,
    val: Split,
    loss: LossFn,
    loss_name: str,
    opt_cls: type,
    opt_kwargs: Mapping[str, Any],
    metrics: Mapping[str, Callable],
) -> tuple[nn.Module, bool]:
    """Build the model once (seed 0, torch's RNG left as it was) and run two training samples and
    two validation samples through it, the loss, the metrics and the optimizer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            net = model()
        except Exception as err:
            raise ConfigError(f"model: the factory raised {type(err).__name__}: {err}") from err
    if not isinstance(net, nn.Module):
        raise ConfigError(
            f"model: the factory must return a torch.nn.Module; got {type(net).__name__}"
        )
    if not any(p.requires_grad for p in net.parameters()):
        raise ConfigError("model: the module has no trainable parameters")
    try:
        opt = _first_rate_free(opt_cls, net.parameters(), opt_kwargs)
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"optimizer {qualname(opt_cls)}: {type(err).__name__}: {err}") from None
    if not hasattr(opt, "param_groups") or not hasattr(opt, "step"):
        raise ConfigError(
            f"optimizer {qualname(opt_cls)} is not a torch optimizer: it has no param_groups/step"
        )
    classification = loss_name == "cross_entropy"
    for split in (train, val):
        x, y = split.sample_batch(2)
        try:
            with torch.random.fork_rng(devices=[]):
                out = net(x)
        except Exception as err:
            raise DataError(
                f"{split.name}: the model does not accept samples of shape {tuple(x.shape[1:])} "
                f"(a batch of {tuple(x.shape)}, dtype {str(x.dtype).replace('torch.', '')}): "
                f"{type(err).__name__}: {err}"
            ) from None
        if not isinstance(out, torch.Tensor):
            raise ConfigError(
                f"model: the forward pass must return one tensor of outputs; got "
                f"{type(out).__name__}"
            )
        try:
            value = loss(out, y)
        except Exception as err:
            raise ConfigError(
                f"loss {loss_name}: failed on outputs of shape {tuple(out.shape)} and targets of "
                f"shape {tuple(y.shape)} ({split.name}): {type(err).__name__}: {err}"
            ) from None
        if not (isinstance(value, torch.Tensor) and value.dim() == 0):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ConfigError(
                f"loss {loss_name}: must return a scalar tensor (the batch mean); got {shape}"
            )
        if not torch.isfinite(value):
            raise ConfigError(
                f"loss {loss_name}: returned {value.item()} at initialisation (not finite)"
            )
        if loss_name not in LOSSES:
            classification = (
                not torch.is_floating_point(y)
                and out.dim() == 2
                and out.shape[1] > 1
                and y.dim() == 1
            )
        for name, fn in metrics.items():
            try:
                got = fn(out.detach(), y)
                float(got)
            except Exception as err:
                raise ConfigError(
                    f"metrics[{name!r}]: must map (output, target) to a number; "
                    f"{type(err).__name__}: {err}"
                ) from None
    return net, classification
