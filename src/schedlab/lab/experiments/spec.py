"""The values that describe a reproduction: its scale (variant), its sweeps, stages and claims.

An :class:`Experiment` is a recipe.  Given a :class:`Variant` (epochs, training samples, seeds) it
produces, stage by stage, the :class:`SweepDef` s to train; a later stage may depend on what an
earlier one found (e.g. the best constant rate of a sweep), passed along in a ``context`` dict.
Its :attr:`Experiment.claims` are then judged on the results (see :mod:`.claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schedlab.errors import ConfigError
from schedlab.lab.train.config import TrainConfig

if TYPE_CHECKING:
    from schedlab.lab.experiments.claims import Claim
    from schedlab.lab.experiments.results import Results

#: source horizon in epochs of the experiments taken from blog posts (all ran 100 epochs).
SOURCE_EPOCHS = 100


@dataclass(frozen=True)
class Variant:
    """The scale of one run of an experiment.

    Attributes:
        epochs: epochs per training run.
        train_size: images drawn from the official training split (validation included).
        seeds: model-initialisation and data-order seeds; every schedule runs with each.
        label: ``"full"``, ``"quick"`` or ``"custom"`` (for reports).
    """

    epochs: int
    train_size: int | None
    seeds: tuple[int, ...]
    label: str = "full"

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"variant: epochs must be an integer >= 1; got {self.epochs!r}")
        if self.train_size is not None and (
            isinstance(self.train_size, bool) or not isinstance(self.train_size, int)
            or self.train_size < 10
        ):  # fmt: skip
            raise ConfigError(
                f"variant: train_size must be an integer >= 10 or None; got {self.train_size!r}"
            )
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"variant: seeds must be distinct and non-empty; got {self.seeds!r}")

    def scale(self, source_epochs: float) -> float:
        """``source_epochs`` of the source's 100-epoch run, in epochs of this variant."""
        return source_epochs * self.epochs / SOURCE_EPOCHS


@dataclass(frozen=True)
class SweepDef:
    """One sweep of an experiment: a training config and its labelled schedules.

    Labels are unique across the whole experiment (claims refer to schedules by label).
    """

    key: str
    config: TrainConfig
    schedules: tuple[tuple[str, str | dict], ...]

    def name(self, experiment: str, variant: Variant) -> str:
        """The sweep's name in the store, e.g. ``mnist-five/main/e100-n12500-s3``; a new name
        for each scale, so variants never mix."""
        size = "all" if variant.train_size is None else variant.train_size
        n = len(variant.seeds)
        seeds = str(n) if variant.seeds == tuple(range(n)) else ",".join(map(str, variant.seeds))
        return f"{experiment}/{self.key}/e{variant.epochs}-n{size}-s{seeds}"


#: a stage: (variant, context) -> the sweeps to train now.
StageFn = Callable[[Variant, Mapping[str, Any]], list[SweepDef]]
#: after a stage: (results so far, context) -> new context entries (e.g. the chosen rate).
SelectFn = Callable[["Results", Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    """Sweeps trained together, then an optional selection that feeds the next stage."""

    sweeps: StageFn
    select: SelectFn | None = None


@dataclass(frozen=True)
class Experiment:
    """A source experiment as schedlab runs it.

    Attributes:
        name: the command's NAME (``schedlab reproduce NAME``).
        title, source: what it reproduces and where the set-up comes from.
        full, quick: ``(epochs, train_size)`` of the full and the ``--quick`` variant.
        stages: how to build its sweeps (see :class:`Stage`).
        claims: the source's claims, judged on the results.
        baseline: label of the schedule the ranking compares against (may be a context key
            written ``@key``, resolved after the stages).
        differences: how this set-up differs from the source's.
    """

    name: str
    title: str
    source: str
    full: tuple[int, int | None]
    quick: tuple[int, int | None]
    stages: tuple[Stage, ...]
    claims: tuple[Claim, ...]
    baseline: str
    differences: tuple[str, ...] = field(default=())

    def variant(
        self,
        *,
        quick: bool = False,
        seeds: int | tuple[int, ...] = 3,
        epochs: int | None = None,
        train_size: int | None = None,
    ) -> Variant:
        """The full (or quick) variant, with ``epochs``/``train_size`` overriding its scale."""
        base_epochs, base_size = self.quick if quick else self.full
        seed_tuple = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
        if isinstance(seeds, int) and seeds < 1:
            raise ConfigError(f"{self.name}: seeds must be >= 1; got {seeds!r}")
        custom = epochs is not None or train_size is not None
        return Variant(
            epochs=base_epochs if epochs is None else epochs,
            train_size=base_size if train_size is None else train_size,
            seeds=seed_tuple,
            label="custom" if custom else ("quick" if quick else "full"),
        )
