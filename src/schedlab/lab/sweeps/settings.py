"""Settings of a schedule comparison: a YAML/JSON config file merged with command-line overrides.

Keys (file and flags alike; flags use dashes, ``--batch-size``):

* every :class:`~schedlab.lab.train.config.TrainConfig` field: ``dataset, model, optimizer, momentum,
  weight_decay, loss, epochs, batch_size, train_size, val_fraction, data_seed, unit``;
* ``schedules``: a list whose items are a spec string (``"cosine(lr=0.1, steps=10)"``), a labelled
  string ``"label=SPEC"``, a spec mapping with ``kind``, or a one-key mapping ``{label: SPEC}``;
  or a mapping ``{label: SPEC, ...}``;
* ``train_size``: also ``all`` (or ``null`` in a file) for the whole official training split;
* ``seeds``: a count ``n`` (seeds ``0 .. n-1``) or a list of seeds;
* ``baseline`` (label or spec), ``metric``, ``target``, ``device``, ``store``, ``out``, ``name``
  (sweep name), ``group_size`` (runs trained together in one batched trainer), ``data_root``.

With ``dataset: linreg`` the model defaults to ``linear`` and the loss to ``mse``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import METRICS
from schedlab.lab.runs.store import DEFAULT_STORE
from schedlab.lab.sweeps.plan import split_label
from schedlab.lab.train.config import TrainConfig

TRAIN_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))
SWEEP_KEYS: tuple[str, ...] = (
    "schedules", "seeds", "baseline", "metric", "target", "device", "store", "out", "name",
    "group_size", "data_root",
)  # fmt: skip
KEYS: tuple[str, ...] = TRAIN_KEYS + SWEEP_KEYS
#: the default number of training samples drawn (``train_size``)...
DEFAULT_TRAIN_SIZE = 10_000
#: ...except for these datasets, smaller than that: all of their training split
SMALL_DATASETS: tuple[str, ...] = ("digits", "linreg")
#: at most this many seeds per sweep (a count beyond it is almost always a typo for one seed)
MAX_SEEDS = 1_000


@dataclass(frozen=True)
class CompareSettings:
    """Everything ``schedlab compare`` needs, validated."""

    config: TrainConfig
    schedules: tuple[tuple[str | None, str | dict], ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    baseline: str | None = None
    metric: str | None = None
    target: float | None = None
    device: str = "cpu"
    store: str = DEFAULT_STORE
    out: str = "out"
    name: str | None = None
    group_size: int = 16
    data_root: str | None = None


def parse_schedules(value: Any) -> tuple[tuple[str | None, str | dict], ...]:
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
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in value)
    ):
        if len(set(value)) != len(value):
            raise ConfigError(f"seeds must be distinct; got {list(value)!r}")
        if len(value) > MAX_SEEDS:
            raise ConfigError(f"seeds: at most {MAX_SEEDS} seeds; got a list of {len(value)}")
        return tuple(int(s) for s in value)
    raise ConfigError(
        f"seeds must be a count >= 1 or a list of distinct integers in [0, 2**63); "
        f"got {value!r:.200}"
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


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keys with dashes as underscores; an unknown key is an error listing the valid ones."""
    out = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(out) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"config: unknown key {', '.join(map(repr, unknown))}; valid keys: {', '.join(KEYS)}"
        )
    return out


def build_settings(file_values: Mapping[str, Any], overrides: Mapping[str, Any]) -> CompareSettings:
    """Merge config-file values with overrides (``None`` = not given) and validate everything."""
    merged = _known(file_values)
    merged.update({k: v for k, v in _known(overrides).items() if v is not None})
    if "schedules" not in merged:
        raise ConfigError("config: no schedules; give --schedule SPEC (repeatable) or 'schedules:'")
    if isinstance(merged.get("train_size"), str):
        merged["train_size"] = parse_train_size(merged["train_size"])
    merged.setdefault("train_size", default_train_size(merged.get("dataset", "mnist")))
    if merged.get("dataset") == "linreg":  # the regression task: its model and loss by default
        merged.setdefault("model", "linear")
        merged.setdefault("loss", "mse")
    train = TrainConfig.from_dict({k: merged[k] for k in TRAIN_KEYS if k in merged})
    extra: dict[str, Any] = {"schedules": parse_schedules(merged["schedules"])}
    if "seeds" in merged:
        extra["seeds"] = parse_seeds(merged["seeds"])
    metric = merged.get("metric")
    if metric is not None and metric not in METRICS:
        raise ConfigError(f"config: metric must be one of {', '.join(METRICS)}; got {metric!r}")
    target = merged.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        raise ConfigError(f"config: target must be a number; got {target!r}")
    group = merged.get("group_size", 16)
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise ConfigError(f"config: group_size must be an integer >= 1; got {group!r}")
    for key in ("baseline", "device", "store", "out", "name", "data_root"):
        value = merged.get(key)
        if value is not None and not isinstance(value, (str, Path)):
            raise ConfigError(f"config: {key} must be a string; got {value!r}")
        if value is not None:
            extra[key] = str(value)
    return CompareSettings(
        config=train, metric=metric, target=None if target is None else float(target),
        group_size=group, **extra,
    )  # fmt: skip
