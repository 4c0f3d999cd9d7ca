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
        label: ``"design"`` (the pre-declared design), ``"pilot"``, ``"quick"`` or ``"custom"``.
    """

    epochs: int
    train_size: int | None
    seeds: tuple[int, ...]
    label: str = "design"

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
    #: train only the first ``seed_count`` seeds of the variant (e.g. a selection stage that
    #: needs fewer seeds than the judged comparisons); ``None``: all of them.
    seed_count: int | None = None

    def seeds(self, variant: Variant) -> tuple[int, ...]:
        """The seeds this sweep trains at ``variant``."""
        return variant.seeds if self.seed_count is None else variant.seeds[: self.seed_count]

    def name(self, experiment: str, variant: Variant) -> str:
        """The sweep's name in the store, e.g. ``mnist-five/main/e100-n12500-s3`` (seeds 0..2),
        ``.../s100-109`` (seeds 100..109), ``.../s4,7``; a new name for each scale and set of
        seeds, so variants never mix.  The size is the config's (``all``: the whole split)."""
        size = "all" if self.config.train_size is None else self.config.train_size
        seeds = self.seeds(variant)
        n = len(seeds)
        if seeds == tuple(range(n)):
            text = str(n)
        elif n > 2 and seeds == tuple(range(seeds[0], seeds[0] + n)):
            text = f"{seeds[0]}-{seeds[-1]}"
        else:
            text = ",".join(map(str, seeds))
        return f"{experiment}/{self.key}/e{self.config.epochs}-n{size}-s{text}"


#: a stage: (variant, context) -> the sweeps to train now.
StageFn = Callable[[Variant, Mapping[str, Any]], list[SweepDef]]
#: after a stage: (results so far, context) -> new context entries (e.g. the chosen rate).
SelectFn = Callable[["Results", Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    """Sweeps trained together, then an optional selection that feeds the next stage."""

    sweeps: StageFn
    select: SelectFn | None = None


#: seeds of the pilot runs (the first, 3-seed runs of each experiment; exploratory only)
PILOT_SEEDS: tuple[int, ...] = (0, 1, 2)


@dataclass(frozen=True)
class Design:
    """The pre-declared design of an experiment: what runs, and how its claims are decided.

    Declared before the runs it judges (see docs/experiments.md): the seeds of the judged
    comparisons are fresh ones, disjoint from the pilot's, so the runs that informed the design
    are not the runs that decide it.  The metric, horizon and smallest effect of interest are
    declared per claim (:class:`schedlab.lab.experiments.claims.Reading`).

    Attributes:
        seeds: seeds of every judged comparison (at least 10).
        alpha: level of every test, after Holm's correction within a claim family.
        power: the power at which the minimal detectable effect and the seeds needed are given.
        chaotic_families: claim families whose outcomes jump between seeds (e.g. Adam at rate
            0.1): a verdict there also needs the sign test (Holm-corrected) to agree.
        notes: why the design is what it is (sizes, budgets).
    """

    seeds: tuple[int, ...]
    alpha: float = 0.05
    power: float = 0.8
    chaotic_families: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.seeds) < 2 or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"design: seeds must be >= 2 distinct seeds; got {self.seeds!r}")
        if not 0 < self.alpha < 1 or not 0 < self.power < 1:
            raise ConfigError(
                f"design: alpha and power must be in (0, 1); got {self.alpha!r}, {self.power!r}"
            )


@dataclass(frozen=True)
class Experiment:
    """A source experiment as schedlab runs it.

    Attributes:
        name: the command's NAME (``schedlab reproduce NAME``).
        title, source: what it reproduces and where the set-up comes from.
        full, quick: ``(epochs, train_size)`` of the declared design and of ``--quick``.
        stages: how to build its sweeps (see :class:`Stage`).
        claims: the source's claims, judged on the results.
        baseline: label of the schedule the ranking compares against (may be a context key
            written ``@key``, resolved after the stages).
        differences: how this set-up differs from the source's.
        design: the pre-declared design (seeds, test level, power).
        untested: the source's claims that are not tested, each with why.
        setup: ``(aspect, source, reproduction)`` rows: the source's set-up beside this one.
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
    design: Design = field(default_factory=lambda: Design(tuple(range(100, 110))))
    untested: tuple[tuple[str, str], ...] = field(default=())
    setup: tuple[tuple[str, str, str], ...] = field(default=())

    def variant(
        self,
        *,
        quick: bool = False,
        pilot: bool = False,
        seeds: int | tuple[int, ...] | None = None,
        epochs: int | None = None,
        train_size: int | None = None,
    ) -> Variant:
        """The declared design's variant (its scale and seeds), or ``quick`` (its small scale,
        the pilot's seeds), or ``pilot`` (the declared scale, seeds 0, 1, 2); ``seeds`` (a count:
        0..N-1, or a tuple), ``epochs`` and ``train_size`` override, making it ``custom``."""
        base_epochs, base_size = self.quick if quick else self.full
        if isinstance(seeds, int) and seeds < 1:
            raise ConfigError(f"{self.name}: seeds must be >= 1; got {seeds!r}")
        if seeds is None:
            seed_tuple = PILOT_SEEDS if quick or pilot else self.design.seeds
        else:
            seed_tuple = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
        custom = epochs is not None or train_size is not None or seeds is not None
        label = "quick" if quick else ("pilot" if pilot else "design")
        return Variant(
            epochs=base_epochs if epochs is None else epochs,
            train_size=base_size if train_size is None else train_size,
            seeds=seed_tuple,
            label="custom" if custom else label,
        )
