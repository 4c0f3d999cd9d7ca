"""Training a ``schedule_free(...)`` member: the schedule-free optimizer, its modes, BatchNorm.

A member whose spec is ``schedule_free(schedule, r, weight_lr_power)`` trains with the
schedule-free counterpart of the setup's optimizer (Defazio et al. 2024, the ``schedulefree``
package), ``schedule`` driving its base rate through ``ScheduleLR`` like any other member:

- ``torch.optim.SGD(momentum=m, weight_decay=wd)`` -> ``SGDScheduleFree(momentum=m or 0.9,
  weight_decay=wd)`` (schedule-free SGD needs ``0 < momentum < 1``; 0.9 is the package's default);
- ``torch.optim.Adam`` / ``AdamW(betas, eps, weight_decay)`` -> ``AdamWScheduleFree(betas, eps,
  weight_decay)`` (its weight decay is decoupled, as AdamW's; Adam's is an L2 term);
- a ``schedulefree`` class given as the optimizer is used as it is;

with ``warmup_steps=0`` (a warmup, if any, is the inner schedule's) and the member's ``r`` and
``weight_lr_power``.  The modes (the package's rules): ``optimizer.train()`` before the
epoch's training steps, ``optimizer.eval()`` (the weights become the averaged point ``x``) before
the evaluation, and back to ``train()`` before the checkpoint is taken (so a checkpoint holds the
training point ``y`` and the state ``z``, and resumes exactly).  A model with BatchNorm layers has
its running statistics recomputed at ``x`` before each evaluation, as the package's README says:
``model.train()`` and, without gradients, the first :data:`BN_BATCHES` training batches (in the
split's own order, not the shuffled one, so the data order of training is not disturbed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from schedlab.errors import ConfigError
from schedlab.schedules.plateau import Plateau, policy_from_spec

KIND = "schedule_free"
#: training batches of the BatchNorm statistics pass (the schedulefree README's ``islice(.., 50)``)
BN_BATCHES = 50

_SGD_KEYS = ("momentum", "weight_decay")
_ADAM_KEYS = ("betas", "eps", "weight_decay")


def free_params(spec: Any) -> dict[str, float] | None:
    """``{"r": .., "weight_lr_power": ..}`` of a ``schedule_free(...)`` spec, ``None`` for any
    other spec."""
    policy = policy_from_spec(spec)
    if isinstance(policy, Plateau) or policy.kind != KIND:
        return None
    return {"r": policy.params["r"], "weight_lr_power": policy.params["weight_lr_power"]}


def is_schedule_free(spec: Any) -> bool:
    """Whether ``spec`` is a ``schedule_free(...)`` spec."""
    return free_params(spec) is not None


def _package() -> Any:
    try:
        import schedulefree
    except ImportError:
        raise ConfigError(
            "schedule_free(...) needs the schedulefree package: pip install 'schedlab[search]'"
        ) from None
    return schedulefree


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def optimizer_for(cls: type, kwargs: Mapping[str, Any], spec: Any) -> tuple[type, dict[str, Any]]:
    """The optimizer class and kwargs member ``spec`` trains with: ``(cls, kwargs)`` itself for
    an ordinary spec, the schedule-free counterpart for ``schedule_free(...)`` (module
    docstring); :class:`ConfigError` when the optimizer has none."""
    extra = free_params(spec)
    if extra is None:
        return cls, dict(kwargs)
    sf = _package()
    if cls.__module__.split(".")[0] == "schedulefree":
        return cls, {**kwargs, **extra}
    if issubclass(cls, torch.optim.SGD):
        keys, target = _SGD_KEYS, sf.SGDScheduleFree
    elif issubclass(cls, (torch.optim.Adam, torch.optim.AdamW)):
        keys, target = _ADAM_KEYS, sf.AdamWScheduleFree
    else:
        raise ConfigError(
            f"schedule_free: no schedule-free counterpart of optimizer {_name(cls)}; use "
            "torch.optim.SGD, Adam or AdamW, or a schedulefree class as the optimizer"
        )
    unknown = sorted(k for k, v in kwargs.items() if k not in keys and v not in (None, False, 0))
    if unknown:
        raise ConfigError(
            f"schedule_free: {_name(cls)} option {', '.join(map(repr, unknown))} has no "
            f"schedule-free counterpart in {_name(target)} (it takes {', '.join(keys)})"
        )
    out = {k: kwargs[k] for k in keys if k in kwargs}
    if target is sf.SGDScheduleFree and not out.get("momentum"):
        out["momentum"] = 0.9
    return target, {**out, **extra}


def is_free_optimizer(optimizer: Any) -> bool:
    """Whether ``optimizer`` has the schedule-free ``train()``/``eval()`` modes."""
    groups = getattr(optimizer, "param_groups", None)
    return bool(groups) and "train_mode" in groups[0] and callable(getattr(optimizer, "eval", None))


def train_mode(optimizers: Iterable[Any]) -> None:
    """``optimizer.train()`` for each schedule-free optimizer (a no-op for the others)."""
    for opt in optimizers:
        if is_free_optimizer(opt):
            opt.train()


def eval_mode(optimizers: Iterable[Any]) -> None:
    """``optimizer.eval()`` for each schedule-free optimizer: weights at the averaged point."""
    for opt in optimizers:
        if is_free_optimizer(opt):
            opt.eval()


def has_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` has a BatchNorm layer that keeps running statistics."""
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        for m in module.modules()
    )


def bn_batches(split: Any, batch_size: int) -> Iterable[torch.Tensor]:
    """The inputs of the BatchNorm statistics pass: the first :data:`BN_BATCHES` batches of the
    training split in its own order (in-memory splits; a loader factory's first batches)."""
    if split.in_memory:
        n = min(len(split), BN_BATCHES * batch_size)
        for lo in range(0, n, batch_size):
            yield split.x[lo : lo + batch_size]
        return
    if split.dataset is not None:
        from torch.utils.data import DataLoader

        batches = DataLoader(split.dataset, batch_size=batch_size, shuffle=False)
    else:
        batches = split.loader(torch.Generator().manual_seed(0))
    for i, (x, _) in enumerate(batches):
        if i >= BN_BATCHES:
            break
        yield x


def builtin_task(config: Any, dataset: Any, engine: str) -> Any:
    """The user-model task equal to built-in ``config`` on ``dataset``: the same model
    (``build_model`` after ``torch.manual_seed(seed)``), data, loss, optimizer (``torch.optim.SGD``
    with the config's momentum and weight decay, or ``torch.optim.Adam``), epochs, batch size and
    unit.  Schedule-free members of a built-in sweep train through it, each with the real
    ``schedulefree`` optimizer (the built-in batched optimizers have no schedule-free form)."""
    from schedlab.lab.train.models import build_model
    from schedlab.lab.train.task import UserTask

    shape, classes = tuple(dataset.input_shape), int(dataset.num_classes)

    def model() -> nn.Module:
        return build_model(config.model, shape, classes)

    if config.optimizer == "sgd":
        optimizer = (
            torch.optim.SGD,
            {"momentum": config.momentum, "weight_decay": config.weight_decay},
        )
    else:
        optimizer = (torch.optim.Adam, {"weight_decay": config.weight_decay})
    ydtype = torch.int64 if dataset.task == "classification" else torch.float32

    def tensors(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=ydtype)

    return UserTask.build(
        model, tensors(dataset.x_train, dataset.y_train), tensors(dataset.x_val, dataset.y_val),
        loss=config.loss, optimizer=optimizer, epochs=config.epochs,
        batch_size=config.batch_size, unit=config.unit, engine=engine,
        model_name=config.model, data_name=dataset.name,
    )  # fmt: skip
