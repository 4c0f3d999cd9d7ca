"""Training configuration and sweep members: frozen, validated, serializable values.

:class:`TrainConfig` says *how* every member of a batched run trains (data, model, optimizer, epochs);
:class:`Member` says what differs per member (its schedule spec and its seed).  Both validate at
construction and raise ``ValueError`` naming the field, the allowed values and the value received.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schedlab.errors import ConfigError
from schedlab.validate import is_finite_real, is_int

MODELS: tuple[str, ...] = ("mlp", "mlp2", "cnn", "vit", "linear")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
LOSSES: tuple[str, ...] = ("cross_entropy", "mse")
UNITS: tuple[str, ...] = ("epoch", "step")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"TrainConfig: {name} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """How every member of a batched run trains.

    Attributes:
        dataset: a name of :data:`schedlab.lab.data.datasets.DATASETS` (checked by ``load_dataset``).
        model: ``mlp`` (784-128-10, ReLU), ``mlp2`` (two hidden layers 256-128), ``cnn``, ``vit``,
            ``linear`` (one affine layer; linear regression with ``loss="mse"``).
        optimizer: ``sgd`` (``momentum``, ``weight_decay``) or ``adam`` (betas 0.9/0.999, eps 1e-8,
            L2 ``weight_decay`` as in ``torch.optim.Adam``).
        loss: ``cross_entropy`` (classification) or ``mse`` (regression).
        epochs: number of passes over the training split.
        batch_size: samples per optimizer step; the last batch of an epoch may be smaller.
        train_size, val_fraction, data_seed: passed to ``load_dataset`` (subsample and split).
        unit: what the schedule's step ``t`` counts: ``"epoch"`` (t = epoch index, the rate is
            constant within an epoch) or ``"step"`` (t = optimizer iteration, 0-based, global).
    """

    dataset: str = "mnist"
    model: str = "mlp"
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    loss: str = "cross_entropy"
    epochs: int = 10
    batch_size: int = 64
    train_size: int | None = 10_000
    val_fraction: float = 0.2
    data_seed: int = 0
    unit: str = "epoch"

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError(
                f"TrainConfig: dataset must be a non-empty string; got {self.dataset!r}"
            )
        _choice("model", self.model, MODELS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("loss", self.loss, LOSSES)
        _choice("unit", self.unit, UNITS)
        if not (is_finite_real(self.momentum) and 0 <= self.momentum < 1):
            raise ConfigError(
                f"TrainConfig: momentum must be a number in [0, 1); got {self.momentum!r}"
            )
        if self.optimizer == "adam" and self.momentum != 0:
            raise ConfigError(
                f"TrainConfig: momentum applies to optimizer 'sgd' only (adam uses betas); "
                f"got momentum={self.momentum!r} with optimizer='adam'"
            )
        if not (is_finite_real(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(
                f"TrainConfig: weight_decay must be a finite number >= 0; got {self.weight_decay!r}"
            )
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not (is_int(value) and value > 0):
                raise ConfigError(f"TrainConfig: {name} must be a positive integer; got {value!r}")
        if self.train_size is not None and not (is_int(self.train_size) and self.train_size > 0):
            raise ConfigError(
                f"TrainConfig: train_size must be a positive integer or None; got {self.train_size!r}"
            )
        if not (is_finite_real(self.val_fraction) and 0 <= self.val_fraction < 1):
            raise ConfigError(
                f"TrainConfig: val_fraction must be a number in [0, 1); got {self.val_fraction!r}"
            )
        if not (is_int(self.data_seed) and self.data_seed >= 0):
            raise ConfigError(
                f"TrainConfig: data_seed must be an integer >= 0; got {self.data_seed!r}"
            )
        for name in ("momentum", "weight_decay", "val_fraction"):  # 0 and 0.0: one hash
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("epochs", "batch_size", "data_seed"):  # np.int64(10) and 10: one hash
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.train_size is not None:
            object.__setattr__(self, "train_size", int(self.train_size))
        if self.loss == "mse" and self.model != "linear":
            raise ConfigError(
                f"TrainConfig: loss 'mse' needs model 'linear' (regression); got model={self.model!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serializable dict (field order)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys raise ``ValueError`` listing the valid ones."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"TrainConfig.from_dict: expected a mapping; got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(
                f"TrainConfig: unknown keys {', '.join(map(repr, unknown))}; "
                f"valid keys: {', '.join(names)}"
            )
        return cls(**d)

    def config_hash(self) -> str:
        """Stable sha256 (hex) of the canonical JSON of :meth:`to_dict` (sorted keys, no spaces)."""
        return json_hash(self.to_dict())


def json_hash(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Member:
    """One member of a batched run: its rate policy and its seed.

    ``schedule`` is any schedlab spec (dict, JSON/YAML or text form) or a plateau spec such as
    ``"plateau(lr=0.1, patience=5)"``.  ``seed`` fixes the model initialisation (as
    ``torch.manual_seed(seed)`` before building the equivalent ``torch.nn`` model) and the data order
    (as ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))``).
    """

    schedule: str | dict
    seed: int

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, (str, dict)) or not self.schedule:
            raise ConfigError(
                f"Member: schedule must be a non-empty spec string or dict; got {self.schedule!r}"
            )
        if not (is_int(self.seed) and 0 <= self.seed < 2**63):
            raise ConfigError(f"Member: seed must be an integer in [0, 2**63); got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
