"""Settings of a schedule search: a YAML/JSON config file merged with command-line overrides.

Keys (file and flags alike; flags use dashes):

* the built-in training keys of ``schedlab compare`` (``dataset, model, optimizer, momentum,
  weight_decay, loss, epochs, batch_size, train_size, val_fraction, data_seed, unit``), or the
  user's own model: ``model: FILE_OR_MODULE:FACTORY`` (``model_kwargs``), ``data:
  FILE_OR_MODULE:LOADER`` (returns ``(train, val)``), ``optimizer: torch.optim.AdamW``
  (``optimizer_kwargs``), ``loss``, ``epochs``, ``batch_size``, ``unit``, ``engine``, ``workers``;
* ``families``: templates with free parameters (a list of ``"TEMPLATE"`` / ``"label=TEMPLATE"``,
  or ``{label: TEMPLATE}``), and/or ``contenders: modern``; ``ranges``: ``{name: RANGE}``;
* the search: ``trials, eta, min_epochs, rungs, brackets, rung_seeds, sampler, sampler_seed,
  pruner, storage, metric, seeds``;
* ``device, store, out, name, group_size, data_root`` as for ``compare``.

See docs/search.md for each key's meaning and default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import metric_direction
from schedlab.lab.runs.store import DEFAULT_STORE
from schedlab.lab.searches.contenders import CONTENDERS
from schedlab.lab.searches.study import PRUNERS, SAMPLERS
from schedlab.lab.sweeps.settings import known_keys, parse_seeds
from schedlab.lab.train.config import TrainConfig

TRAIN_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))
USER_KEYS: tuple[str, ...] = ("model_kwargs", "data", "optimizer_kwargs", "engine", "workers")
INT_KEYS: dict[str, int] = {
    "trials": 1, "eta": 2, "min_epochs": 1, "brackets": 1, "rung_seeds": 1, "group_size": 1,
    "sampler_seed": 0,
}  # fmt: skip
TEXT_KEYS: tuple[str, ...] = ("device", "store", "out", "name", "data_root", "storage")
SEARCH_KEYS: tuple[str, ...] = (
    "families", "contenders", "ranges", "seeds", "metric", "rungs", "sampler", "pruner",
    *INT_KEYS, *TEXT_KEYS,
)  # fmt: skip
KEYS: tuple[str, ...] = TRAIN_KEYS + USER_KEYS + SEARCH_KEYS


@dataclass(frozen=True)
class SearchSettings:
    """Everything ``schedlab search`` needs, validated (``train``: the training keys as given;
    ``user``: the user's model keys, or ``None`` for a built-in model)."""

    train: Mapping[str, Any]
    user: Mapping[str, Any] | None
    families: Any
    ranges: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)
    metric: str | None = None
    rungs: tuple[int, ...] | None = None
    sampler: str = "qmc"
    pruner: str = "halving"
    trials: int = 9
    eta: int = 3
    min_epochs: int = 1
    brackets: int = 1
    rung_seeds: int = 1
    group_size: int = 16
    sampler_seed: int = 0
    device: str = "cpu"
    store: str = DEFAULT_STORE
    out: str = "out"
    name: str | None = None
    data_root: str | None = None
    storage: str | None = None

    def config(self) -> TrainConfig:
        """The built-in training config (:class:`ConfigError` for a user model)."""
        return TrainConfig.from_dict(dict(self.train))


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    return known_keys(values, KEYS)


def _families(merged: Mapping[str, Any]) -> Any:
    fams, named = merged.get("families"), merged.get("contenders")
    if named is not None and named not in CONTENDERS:
        raise ConfigError(f"contenders must be one of {', '.join(CONTENDERS)}; got {named!r}")
    if fams is None and named is None:
        raise ConfigError(
            "config: no families; give --family TEMPLATE (repeatable, e.g. 'cosine(lr=?, "
            "steps=E)'), 'families:' or --contenders modern"
        )
    chosen: list[Any] = [{k: v} for k, v in CONTENDERS[named].items()] if named else []
    if isinstance(fams, Mapping):
        chosen += [{k: v} for k, v in fams.items()]
    elif isinstance(fams, str):
        chosen.append(fams)
    elif isinstance(fams, Sequence):
        chosen += list(fams)
    elif fams is not None:
        raise ConfigError(f"families must be a list or a mapping of templates; got {fams!r}")
    return chosen


def parse_ranges(value: Any) -> dict[str, Any]:
    """``{name: RANGE}`` from a mapping, or from ``"name=RANGE"`` texts (the ``--range`` flag)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        value = [value]
    out = {}
    for item in value:
        name, sep, body = str(item).partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(
                f"ranges: write NAME=RANGE, e.g. lr=loguniform(1e-4, 1); got {item!r}"
            )
        out[name.strip()] = body.strip()
    return out


def build_search_settings(
    file_values: Mapping[str, Any], overrides: Mapping[str, Any]
) -> SearchSettings:
    """Merge config-file values with overrides (``None`` = not given) and validate them."""
    merged = _known(file_values)
    merged.update({k: v for k, v in _known(overrides).items() if v is not None})
    families = _families(merged)
    model = merged.get("model")
    user = None
    if isinstance(model, str) and ":" in model:
        if "data" not in merged:
            raise ConfigError(f"config: model {model!r} is the user's own; give data: FILE:LOADER")
        user = {k: merged[k] for k in ("model", *USER_KEYS) if k in merged}
        user["optimizer"] = merged.get("optimizer", "torch.optim.SGD")
        allowed = {"model", "optimizer", "loss", "epochs", "batch_size", "unit"}
        builtin_only = sorted(k for k in TRAIN_KEYS if k in merged and k not in allowed)
        if builtin_only:
            raise ConfigError(
                f"config: {', '.join(builtin_only)} apply to built-in models only (the user's "
                "model gets its data from its loader)"
            )
    elif any(k in merged for k in USER_KEYS):
        given = sorted(k for k in USER_KEYS if k in merged)
        raise ConfigError(
            f"config: {', '.join(given)} need the user's own model (model: FILE_OR_MODULE:FACTORY)"
        )
    train = {k: merged[k] for k in TRAIN_KEYS if k in merged}
    if user is None:
        if merged.get("dataset") == "linreg":
            train.setdefault("model", "linear")
            train.setdefault("loss", "mse")
        if isinstance(train.get("train_size"), str):
            text = train["train_size"].strip().lower()
            train["train_size"] = None if text == "all" else _int_text("train_size", text)
        TrainConfig.from_dict(train)  # every training key checked before any work
    extra: dict[str, Any] = {}
    if "seeds" in merged:
        extra["seeds"] = parse_seeds(merged["seeds"])
    metric = merged.get("metric")
    if metric is not None:
        metric_direction(metric)  # a built-in, or 'val_<name>:max|min'; the task checks the name
    for key, low in INT_KEYS.items():
        if key in merged:
            value = merged[key]
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"config: {key} must be an integer >= {low}; got {value!r}")
            extra[key] = value
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if key in merged:
            if merged[key] not in allowed:
                raise ConfigError(
                    f"config: {key} must be one of {', '.join(allowed)}; got {merged[key]!r}"
                )
            extra[key] = merged[key]
    if "rungs" in merged:
        rungs = merged["rungs"]
        if isinstance(rungs, str):
            rungs = [_int_text("rungs", p) for p in rungs.split(",") if p.strip()]
        if not isinstance(rungs, Sequence) or not rungs:
            raise ConfigError(f"config: rungs must be a list of epoch counts; got {rungs!r}")
        extra["rungs"] = tuple(rungs)
    for key in TEXT_KEYS:
        value = merged.get(key)
        if value is not None and not isinstance(value, (str, Path)):
            raise ConfigError(f"config: {key} must be a string; got {value!r}")
        if value is not None:
            extra[key] = str(value)
    return SearchSettings(
        train=train, user=user, families=families, ranges=parse_ranges(merged.get("ranges")),
        metric=metric, **extra,
    )  # fmt: skip


def _int_text(key: str, text: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(f"config: {key} must be a positive integer; got {text!r}")
    return int(text)
