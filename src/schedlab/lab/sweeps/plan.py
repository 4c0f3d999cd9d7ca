"""The plan of a sweep: labelled schedules (canonical text) x seeds under one training config.

A run's identity in the store is ``(config hash, canonical schedule text, seed)``; the canonical
text is ``repr`` of the parsed policy, so ``"cosine(0.1, 10)"`` and ``{"kind": "cosine", ...}``
name the same run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schedlab.errors import ConfigError, SpecError
from schedlab.lab.train.setup import TrainSetup
from schedlab.schedules.plateau import policy_from_spec

_LABELLED = re.compile(r"^\s*([A-Za-z0-9_.+\-]+)\s*=(?!=)\s*(.+)$", re.DOTALL)


def split_label(text: str) -> tuple[str | None, str]:
    """``"cos=cosine(lr=0.1, steps=10)"`` -> ``("cos", "cosine(...)")``; no label -> ``(None, text)``."""
    match = _LABELLED.match(text)
    if match and not text.lstrip().startswith(("{", "[")):
        return match.group(1), match.group(2).strip()
    return None, text.strip()


def canonical_schedule(spec: str | dict) -> str:
    """The canonical text form of a spec (its identity in the store), e.g.
    ``"cosine(0.1, 10)"`` -> ``"cosine(lr=0.1, steps=10, min_lr=0.0)"``.  Plateau specs allowed."""
    return repr(policy_from_spec(spec))


@dataclass(frozen=True)
class SweepPlan:
    """A sweep to run: ``schedules`` as ``(label, canonical text)``, each trained with every seed."""

    name: str
    config: TrainSetup
    schedules: tuple[tuple[str, str], ...]
    seeds: tuple[int, ...]

    def runs(self) -> list[tuple[str, str, int]]:
        """``(label, schedule, seed)`` of every run, schedule-major."""
        return [(label, spec, seed) for label, spec in self.schedules for seed in self.seeds]

    def to_dict(self) -> dict[str, Any]:
        """What the store keeps as the sweep's config."""
        return {
            "config": self.config.to_dict(),
            "schedules": [{"label": label, "schedule": spec} for label, spec in self.schedules],
            "seeds": list(self.seeds),
        }


def make_plan(
    config: TrainSetup,
    schedules: Sequence[tuple[str | None, str | dict] | str | dict],
    seeds: Sequence[int],
    name: str | None = None,
) -> SweepPlan:
    """Validate the schedules (``"label=SPEC"`` or ``(label, spec)``; labels default to the spec as
    written) and name the sweep.

    The default name is ``{dataset}-{model}-{optimizer}-{hash8}`` where the hash covers the config,
    the schedules and the seeds, so the same command names the same sweep.
    """
    pairs: list[tuple[str, str]] = []
    for item in schedules:
        label, spec = item if isinstance(item, tuple) else (None, item)
        if label is None and isinstance(spec, str):
            label, spec = split_label(spec)
        try:
            text = canonical_schedule(spec)
        except ValueError as err:
            raise SpecError(f"schedule {spec!r}: {err}") from None
        if label is None:
            label = spec.strip() if isinstance(spec, str) else text
        pairs.append((label, text))
    _unique("label", [p[0] for p in pairs])
    _unique("schedule", [p[1] for p in pairs])
    if not pairs:
        raise ConfigError("sweep: give at least one schedule")
    if not seeds:
        raise ConfigError("sweep: give at least one seed")
    body = {"config": config.to_dict(), "schedules": pairs, "seeds": list(seeds)}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    names = config.to_dict()
    default = f"{names['dataset']}-{names['model']}-{names['optimizer']}-{digest}"
    return SweepPlan(name or default, config, tuple(pairs), tuple(int(s) for s in seeds))


def _unique(what: str, values: list[str]) -> None:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ConfigError(f"sweep: each {what} must appear once; repeated: {', '.join(dupes)}")
