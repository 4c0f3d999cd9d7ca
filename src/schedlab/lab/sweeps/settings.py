"""Settings of a schedule comparison: a YAML/JSON config file merged with command-line overrides.

Keys (file and flags alike; flags use dashes, ``--batch-size``):

* every :class:`~schedlab.lab.train.config.TrainConfig` field: ``dataset, model, optimizer, momentum,
  weight_decay, loss, epochs, batch_size, train_size, val_fraction, data_seed, unit``;
* ``schedules``: a list whose items are a spec string (``"cosine(lr=0.1, steps=10)"``), a labelled
  string ``"label=SPEC"``, a spec mapping with ``kind``, or a one-key mapping ``{label: SPEC}``;
  or a mapping ``{label: SPEC, ...}``;
* ``train_size``: also ``all`` (or ``null`` in a file) for the whole official training split;
  by default 10,000 samples, or all of them for the small datasets (``digits``, ``linreg``);
* ``seeds``: a count ``n`` (seeds ``0 .. n-1``, at most :data:`MAX_SEEDS`) or a list of seeds;
* ``baseline`` (label or spec), ``metric``, ``target``, ``device``, ``store``, ``out``, ``name``
  (sweep name), ``group_size`` (runs trained together in one batched trainer), ``data_root``.

With ``dataset: linreg`` the model defaults to ``linear`` and the loss to ``mse``.

**The user's own model** (a :class:`~schedlab.lab.train.task.UserTask`): ``model`` is an import
string (``"pkg.module:factory"`` or ``"path/to/file.py:factory"``, see
:mod:`schedlab.lab.sweeps.imports`) called with ``model_kwargs``; ``data`` names a loader called
with ``data_kwargs`` that returns ``(train, val)``; ``optimizer`` is ``sgd``/``adam``
(``torch.optim.SGD``/``Adam``) or an import path of a class such as ``torch.optim.AdamW``, built
with ``optimizer_kwargs`` (and ``momentum``/``weight_decay`` when given); ``loss`` is
``cross_entropy``/``mse`` or an import path of a function ``(output, target) -> scalar`` or of a
loss class (built with ``loss_kwargs``); ``metrics`` maps names to import paths of functions
``(output, target) -> number``; ``engine`` (``auto``, ``stacked``, ``per-run``) and ``workers``
choose how the runs train.  The keys of the built-in datasets (``dataset, train_size,
val_fraction, data_seed, data_root``) do not apply there, nor these to the built-in models: each
is an error naming the key, not a silent no-op.  Everything is resolved and probed
(:meth:`UserTask.build`) here, before any store is opened.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError, DataError
from schedlab.lab.analysis.stats import check_sesoi, metric_direction
from schedlab.lab.runs.store import DEFAULT_STORE
from schedlab.lab.sweeps.imports import Bound, is_import_string, resolve_callable, resolve_class
from schedlab.lab.sweeps.plan import split_label
from schedlab.lab.train.config import MODELS, UNITS, TrainConfig
from schedlab.lab.train.setup import TrainSetup

TRAIN_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))
SWEEP_KEYS: tuple[str, ...] = (
    "schedules", "seeds", "baseline", "metric", "target", "tests", "sesoi", "device", "store",
    "out", "name", "group_size", "data_root", "script",
)  # fmt: skip
#: keys of the user's own model (``model: "pkg.module:factory"``)
USER_KEYS: tuple[str, ...] = (
    "data", "model_kwargs", "data_kwargs", "optimizer_kwargs", "loss_kwargs", "metrics", "engine",
    "workers",
)  # fmt: skip
KEYS: tuple[str, ...] = TRAIN_KEYS + SWEEP_KEYS + USER_KEYS
#: keys of the built-in datasets, which do not apply to the user's data
DATASET_KEYS: tuple[str, ...] = ("dataset", "train_size", "val_fraction", "data_seed", "data_root")
#: the default number of training samples drawn (``train_size``)...
DEFAULT_TRAIN_SIZE = 10_000
#: ...except for these datasets, smaller than that: all of their training split
SMALL_DATASETS: tuple[str, ...] = ("digits", "linreg")
#: at most this many seeds per sweep (a count beyond it is almost always a typo for one seed)
MAX_SEEDS = 1_000


@dataclass(frozen=True)
class CompareSettings:
    """Everything ``schedlab compare`` needs, validated: ``config`` is a :class:`TrainConfig`
    (built-in model) or a :class:`~schedlab.lab.train.task.UserTask` (the user's own)."""

    config: TrainSetup | None
    schedules: tuple[tuple[str | None, str | dict], ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    baseline: str | None = None
    metric: str | None = None
    target: float | None = None
    #: decide each schedule against the baseline (``rank(..., tests=True)``), at this SESOI
    tests: bool = False
    sesoi: float | None = None
    device: str = "cpu"
    store: str = DEFAULT_STORE
    out: str = "out"
    name: str | None = None
    group_size: int = 16
    data_root: str | None = None
    #: the user's training function (``script: file.py:train``) for :func:`run_trials`; then
    #: ``config`` is ``None`` and ``epochs``, ``unit`` and ``workers`` say how to call it
    script: Callable[..., Any] | None = None
    epochs: int = 10
    unit: str = "epoch"
    workers: int = 1


#: the keys a training function (``script``) takes; the others describe a model the lab trains
SCRIPT_KEYS: tuple[str, ...] = (
    "schedules", "seeds", "baseline", "metric", "tests", "sesoi", "store", "out", "name",
    "script", "epochs", "unit", "workers",
)  # fmt: skip


def parse_schedules(value: Any) -> tuple[tuple[str | None, str | dict], ...]:
    """``(label, spec)`` pairs from a list of ``"SPEC"``, ``"label=SPEC"``, spec mappings,
    ``{label: SPEC}`` or ``(label, SPEC)`` items, or a ``{label: SPEC}`` mapping."""
    items: list[tuple[str | None, str | dict]] = []
    if isinstance(value, Mapping) and "kind" not in value:
        value = [{k: v} for k, v in value.items()]
    elif isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise ConfigError(
            f"schedules must be a non-empty list of specs ('SPEC' or 'label=SPEC'); got {value!r}"
        )
    for item in value:
        if isinstance(item, str):
            items.append(split_label(item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (str, Mapping)):
            items.append((None if item[0] is None else str(item[0]), item[1]))  # (label, spec)
        elif isinstance(item, Mapping) and "kind" in item:
            items.append((None, dict(item)))
        elif isinstance(item, Mapping) and len(item) == 1:
            ((label, spec),) = item.items()
            if not isinstance(spec, (str, Mapping)):
                raise ConfigError(
                    f"schedules: the spec of {label!r} must be a string or mapping; got {spec!r}"
                )
            items.append((str(label), spec if isinstance(spec, str) else dict(spec)))
        else:
            raise ConfigError(
                "schedules: each item must be 'SPEC', 'label=SPEC', a spec mapping with 'kind' or "
                f"{{label: SPEC}}; got {item!r}"
            )
    return tuple(items)


def parse_seeds(value: Any) -> tuple[int, ...]:
    """A count ``n`` (-> ``0..n-1``), a list of seeds, or text ``"3"`` / ``"0,4,7"``."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise ConfigError(f"seeds must be a count like 3 or a list like 0,4,7; got {value!r}")
        value = int(parts[0]) if len(parts) == 1 and "," not in value else [int(p) for p in parts]
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"seeds: the number of seeds must be >= 1; got {value!r}")
        if value > MAX_SEEDS:
            raise ConfigError(
                f"seeds: a count is at most {MAX_SEEDS} (seeds 0..{MAX_SEEDS - 1}); got {value} "
                f"-- for the one seed {value}, give a list: '{value},'"
            )
        return tuple(range(value))
    if (
        isinstance(value, Sequence)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if max(value) >= 2**63:
            raise ConfigError(
                f"seeds must be below 2**63 (what the run store holds); got {max(value)}"
            )
        if len(set(value)) != len(value):
            raise ConfigError(f"seeds must be distinct; got {list(value)!r}")
        if len(value) > MAX_SEEDS:
            raise ConfigError(f"seeds: at most {MAX_SEEDS} seeds; got a list of {len(value)}")
        return tuple(int(s) for s in value)
    raise ConfigError(
        f"seeds must be a count >= 1 or a list of distinct integers >= 0; got {value!r:.200}"
    )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) config file into a mapping."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config: no such file {str(p)!r}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config: {str(p)!r} is not UTF-8 text (byte {err.start}: {err.reason}); save it as "
            "UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"config: cannot read {str(p)!r} ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config: {str(p)!r} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"config: {str(p)!r} must hold a mapping of keys; got {type(data).__name__}"
        )
    return dict(data)


def parse_train_size(text: str) -> int | None:
    """``"all"`` -> ``None`` (the whole official training split); ``"5000"`` -> 5000."""
    if text.strip().lower() == "all":
        return None
    if text.strip().isdigit():
        return int(text)
    raise ConfigError(f"config: train_size must be a positive integer or 'all'; got {text!r}")


def default_train_size(dataset: str) -> int | None:
    """The ``train_size`` used when none is given: :data:`DEFAULT_TRAIN_SIZE` samples, or the
    whole training split of the datasets smaller than that (``digits``, ``linreg``)."""
    return None if dataset in SMALL_DATASETS else DEFAULT_TRAIN_SIZE


def known_keys(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``values`` with dashes in keys as underscores; a key not in ``keys`` is an error listing
    the valid ones."""
    out = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(out) - set(keys))
    if unknown:
        raise ConfigError(
            f"config: unknown key {', '.join(map(repr, unknown))}; valid keys: {', '.join(keys)}"
        )
    return out


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    return known_keys(values, KEYS)


def build_settings(file_values: Mapping[str, Any], overrides: Mapping[str, Any]) -> CompareSettings:
    """Merge config-file values with overrides (``None`` = not given) and validate everything."""
    merged = _known(file_values)
    merged.update({k: v for k, v in _known(overrides).items() if v is not None})
    if "schedules" not in merged:
        raise ConfigError("config: no schedules; give --schedule SPEC (repeatable) or 'schedules:'")
    extra: dict[str, Any] = {"schedules": parse_schedules(merged["schedules"])}
    if "seeds" in merged:
        extra["seeds"] = parse_seeds(merged["seeds"])
    metric = merged.get("metric")
    if metric is not None:
        metric_direction(metric)  # a built-in, or 'val_<name>:max|min'; the task checks the name
    target = merged.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        raise ConfigError(f"config: target must be a number; got {target!r}")
    tests = merged.get("tests", False)
    if not isinstance(tests, bool):
        raise ConfigError(f"config: tests must be true or false; got {tests!r}")
    if merged.get("sesoi") is not None:
        check_sesoi(merged["sesoi"])
        extra["sesoi"] = float(merged["sesoi"])
    extra["tests"] = tests or "sesoi" in extra
    group = merged.get("group_size", 16)
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise ConfigError(f"config: group_size must be an integer >= 1; got {group!r}")
    for key in ("baseline", "device", "store", "out", "name", "data_root"):
        value = merged.get(key)
        if value is not None and not isinstance(value, (str, Path)):
            raise ConfigError(f"config: {key} must be a string; got {value!r}")
        if value is not None:
            extra[key] = str(value)
    if "script" in merged:
        return _script_settings(merged, extra, metric)
    setup = user_task(merged) if is_user_model(merged) else builtin_config(merged)
    return CompareSettings(
        config=setup, metric=metric, target=None if target is None else float(target),
        group_size=group, **extra,
    )  # fmt: skip


def _script_settings(
    merged: Mapping[str, Any], extra: dict[str, Any], metric: str | None
) -> CompareSettings:
    """Settings of ``script: file.py:train`` (:func:`~schedlab.lab.sweeps.trials.run_trials`)."""
    other = sorted(k for k in merged if k not in SCRIPT_KEYS)
    if other:
        raise ConfigError(
            f"config: {', '.join(other)} do not apply with script (your function trains; it "
            f"takes {', '.join(k for k in SCRIPT_KEYS if k != 'script')})"
        )
    fn = resolve_callable(merged["script"], "script")
    epochs, workers = merged.get("epochs", 10), merged.get("workers", 1)
    for key, value in (("epochs", epochs), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"config: {key} must be an integer >= 1; got {value!r}")
    unit = merged.get("unit", "epoch")
    if unit not in UNITS:
        raise ConfigError(f"config: unit must be one of {', '.join(UNITS)}; got {unit!r}")
    return CompareSettings(
        config=None, metric=metric, script=fn, epochs=epochs, unit=unit, workers=workers,
        **extra,
    )  # fmt: skip


def is_user_model(values: Mapping[str, Any]) -> bool:
    """Whether the settings name the user's own model (``model`` an import string) rather than
    a built-in one; ``data`` without such a model, or a model that is neither, is an error."""
    model = values.get("model")
    user = isinstance(model, str) and model not in MODELS and is_import_string(model)
    if not user and model is not None and model not in MODELS:
        raise ConfigError(
            f"config: model must be one of {', '.join(MODELS)}; got {model!r} (or the user's "
            "model as an import string: 'pkg.module:factory' or 'path/to/file.py:factory')"
        )
    if not user and "data" in values:
        raise ConfigError(
            "config: data (the user's loader) needs the user's model too: model: "
            "'pkg.module:factory' or 'path/to/file.py:factory' (the built-in models train on "
            "a built-in dataset: dataset: mnist)"
        )
    return user


def builtin_config(values: Mapping[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a built-in model and dataset."""
    merged = dict(values)
    _not_here(merged, USER_KEYS, "to the user's own model (model: 'pkg.module:factory') only")
    for key, allowed in (("optimizer", "sgd or adam"), ("loss", "cross_entropy or mse")):
        if is_import_string(merged.get(key)):
            raise ConfigError(
                f"config: {key} {merged[key]!r} (an import path) needs the user's own model "
                f"(model: 'pkg.module:factory'); the built-in models train with {allowed}"
            )
    if isinstance(merged.get("train_size"), str):
        merged["train_size"] = parse_train_size(merged["train_size"])
    merged.setdefault("train_size", default_train_size(merged.get("dataset", "mnist")))
    if merged.get("dataset") == "linreg":  # the regression task: its model and loss by default
        merged.setdefault("model", "linear")
        merged.setdefault("loss", "mse")
    return TrainConfig.from_dict({k: merged[k] for k in TRAIN_KEYS if k in merged})


def user_task(values: Mapping[str, Any]) -> TrainSetup:
    """The :class:`~schedlab.lab.train.task.UserTask` the keys name: the factory, loader, loss,
    metrics and optimizer resolved from their import strings, the data loaded, all of it probed
    (:meth:`UserTask.build`).  Every error names its key."""
    import dataclasses

    from schedlab.lab.train.task import LOSSES, UserTask

    model = values["model"]
    _not_here(values, DATASET_KEYS, f"to the built-in datasets, not to the user's data "
              f"(model {model!r} trains on data: 'pkg.module:loader')")  # fmt: skip
    if "data" not in values:
        raise ConfigError(
            f"config: model {model!r} is the user's model: give data: 'pkg.module:loader' (or "
            "'path/to/file.py:loader') returning (train, val)"
        )
    # the shapes of the keys first (cheap), then the imports, the data loader last (it may be slow)
    model_kwargs, data_kwargs = _mapping(values, "model_kwargs"), _mapping(values, "data_kwargs")
    loss, loss_kwargs = values.get("loss", "cross_entropy"), _mapping(values, "loss_kwargs")
    metric_names = _metrics(values.get("metrics"))
    factory = resolve_callable(model, "model")
    build = functools.partial(factory, **model_kwargs) if model_kwargs else factory
    if isinstance(loss, str) and loss in LOSSES:
        if loss_kwargs:
            raise ConfigError(
                f"config: loss_kwargs applies to a loss given by import path; {loss!r} takes none"
            )
    else:
        loss = _bound(resolve_callable(loss, "loss"), loss_kwargs, "loss")
    metrics = {
        name: _bound(resolve_callable(text, f"metrics.{name}"), {}, f"metrics.{name}")
        for name, text in metric_names.items()
    }
    optimizer = _optimizer(values)
    train, val = _load_data(values["data"], data_kwargs)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    try:
        task = UserTask.build(
            build, train, val, loss=loss, optimizer=optimizer, metrics=metrics,
            epochs=values.get("epochs", defaults["epochs"]),
            batch_size=values.get("batch_size", defaults["batch_size"]),
            unit=values.get("unit", defaults["unit"]), engine=values.get("engine", "auto"),
            workers=values.get("workers"), data_name=_short(values["data"]),
        )  # fmt: skip
    except (ConfigError, DataError) as err:
        text = str(err)
        if text.startswith(("train", "val")):  # the loader's splits: the key is data
            raise type(err)(
                f"data: {values['data']!r} returned data that does not fit: {text}"
            ) from None
        raise
    if model_kwargs:  # arguments that shape no parameter (dropout, ...) still make other runs
        task = dataclasses.replace(
            task, model_name=f"{task.model_name}({_kwargs_text(model_kwargs)})"
        )
    return task


def _not_here(values: Mapping[str, Any], keys: Sequence[str], why: str) -> None:
    given = [k for k in keys if k in values]
    if given:
        verb, it = ("applies", "it") if len(given) == 1 else ("apply", "them")
        raise ConfigError(f"config: {', '.join(given)} {verb} {why}; remove {it}")


def _mapping(values: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A ``*_kwargs`` key: a mapping (in YAML) or its YAML/JSON text (``--model-kwargs
    '{width: 64}'``); absent: ``{}``."""
    value = values.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ConfigError(f"config: {key} is not a YAML mapping: {err}") from None
        value = {} if value is None else value
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(
            f"config: {key} must be a mapping of argument names to values, like "
            f"{{width: 64}}; got {value!r:.200}"
        )
    glued = [k for k, v in value.items() if v is None and ":" in k]
    if glued:  # YAML reads {width:64} as the key 'width:64'
        raise ConfigError(
            f"config: {key}: write a space after each colon ({{width: 64}}); got the key "
            f"{glued[0]!r} with no value"
        )
    return dict(value)


def _metrics(value: Any) -> dict[str, str]:
    """``metrics``: a mapping ``{name: import string}`` or ``NAME=IMPORT`` strings (flags)."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        pairs = {}
        for item in value:
            name, eq, text = str(item).partition("=")
            if not eq or not name.strip() or not text.strip():
                raise ConfigError(
                    f"config: metrics items must be NAME=IMPORT (e.g. f1=mymetrics:f1); got {item!r}"
                )
            pairs[name.strip()] = text.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise ConfigError(f"config: metrics must map names to import strings; got {value!r:.200}")
    for name, text in value.items():
        if not (isinstance(name, str) and name.isidentifier() and isinstance(text, str)):
            raise ConfigError(
                "config: metrics must map names (identifiers) to import strings like "
                f"'mymetrics:f1'; got {name!r}: {text!r}"
            )
    return dict(value)


def _optimizer(values: Mapping[str, Any]) -> tuple[type, dict[str, Any]]:
    """``(class, kwargs)``: ``sgd``/``adam`` are torch's SGD/Adam; anything else is an import
    path of an optimizer class; ``momentum``/``weight_decay`` join ``optimizer_kwargs``."""
    import torch

    name = values.get("optimizer", "sgd")
    kwargs = _mapping(values, "optimizer_kwargs")
    for key in ("momentum", "weight_decay"):
        if key in values:
            if key in kwargs:
                raise ConfigError(
                    f"config: {key} is given twice (as a key and in optimizer_kwargs)"
                )
            kwargs[key] = values[key]
    builtin = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    if name == "adam" and kwargs.get("momentum", 0) != 0:
        raise ConfigError("config: momentum applies to optimizer 'sgd' only (adam uses betas)")
    if isinstance(name, str) and name in builtin:
        return builtin[name], kwargs
    if not is_import_string(name):
        raise ConfigError(
            f"config: optimizer must be sgd, adam or an import path of an optimizer class such "
            f"as torch.optim.AdamW; got {name!r}"
        )
    return resolve_class(name, "optimizer"), kwargs


def _load_data(text: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """Call the loader ``data`` names with ``data_kwargs``: it must return ``(train, val)``."""
    loader = resolve_callable(text, "data")
    try:
        got = loader(**kwargs)
    except Exception as err:
        raise ConfigError(f"data: the loader {text!r} raised {type(err).__name__}: {err}") from None
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        shape = f"a {type(got).__name__}" + (
            f" of {len(got)}" if isinstance(got, (tuple, list)) else ""
        )
        raise ConfigError(
            f"data: the loader {text!r} must return (train, val); it returned {shape}"
        )
    return got[0], got[1]


def _bound(fn: Any, kwargs: dict[str, Any], what: str) -> Any:
    """A resolved loss or metric as the task calls it: a class is built (with ``kwargs``), a
    function called with them (see :class:`~schedlab.lab.sweeps.imports.Bound`)."""
    if not kwargs and not isinstance(fn, type):
        return fn
    return Bound(fn, kwargs, what)


def _kwargs_text(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))


def _short(text: str) -> str:
    """The name of the object an import string names (``pkg.data:load`` -> ``load``)."""
    return re.split(r"[:.]", text.strip())[-1] or text
