"""Source claims and how each is decided: ``confirmed``, ``refuted``, ``no difference`` or
``inconclusive``.

A claim is judged under one or more :class:`Reading` s: a metric read at a horizon (epochs
completed), with a smallest effect of interest (SESOI) in the metric's units.  The first reading
is the source's own where the source says how it judged (e.g. validation loss over the first 60
epochs), the next the project's preferred one (e.g. final validation accuracy).

Every claim becomes paired comparisons over seeds (:func:`schedlab.lab.analysis.inference.
compare_paired`): a t interval and test, the sign test, a bootstrap interval, TOST against the
SESOI, the minimal detectable effect and the seeds needed.  Comparisons are Holm-corrected within
a *family* (the claims that share :attr:`family`, per reading), then decided one by one:

* **no difference**: TOST (Holm-adjusted) shows the difference lies within +-SESOI: whatever
  its sign, and even where it is also significant, it is smaller than any that matters;
* **confirmed**: otherwise, the Holm-adjusted t-test rejects "no difference" and the difference
  lies on the claim's side (in a *chaotic* family the Holm-adjusted sign test must reject too);
* **refuted**: the same, on the other side;
* **inconclusive**: none of these — the seeds run cannot tell (see the power figures).

A diverged run scores chance accuracy (:data:`CHANCE`, 10 classes) and an infinite loss: it keeps
its information instead of making the comparison NaN.  Where an infinite loss leaves the t-test
undefined, the sign test decides (a diverged run is the worst).

Subjects are schedule labels; ``@key`` names a label chosen by an earlier stage (``context[key]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from scipy import stats as sps

from schedlab.errors import ConfigError
from schedlab.lab.analysis.inference import (
    BETTER,
    WORSE,
    Comparison,
    adjust,
    compare_paired,
    decide,
)
from schedlab.lab.analysis.stats import METRICS
from schedlab.lab.experiments.results import Results
from schedlab.lab.experiments.spec import Design

CONFIRMED, REFUTED, NO_DIFFERENCE, INCONCLUSIVE = (
    "confirmed", "refuted", "no difference", "inconclusive",
)  # fmt: skip
VERDICTS: tuple[str, ...] = (CONFIRMED, REFUTED, NO_DIFFERENCE, INCONCLUSIVE)
#: accuracy of a diverged run (its outputs are NaN: no better than chance on 10 classes)
CHANCE = 0.1


@dataclass(frozen=True)
class Reading:
    """How a claim is measured.

    Attributes:
        metric: ``val_acc``, ``val_loss``, ``train_acc`` or ``train_loss``.
        horizon: epochs completed when the value is read, in epochs of the declared design
            (``None``: the run's last epoch); a shorter variant reads it at the same fraction of
            its run (:meth:`at`).
        sesoi: smallest effect of interest, in the metric's units (accuracy 0.005 = half a
            point; for :class:`Overfits` the relative rise of the validation loss).
        who: ``"source"`` (as the source judged) or ``"project"`` (the project's preference).
        split: which split the metric is computed on (for reports).
    """

    metric: str = "val_acc"
    horizon: int | None = None
    sesoi: float = 0.005
    who: str = "project"
    split: str = "validation"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(
                f"reading: metric must be one of {', '.join(METRICS)}; got {self.metric!r}"
            )
        if not (self.sesoi > 0 and math.isfinite(self.sesoi)):
            raise ConfigError(f"reading: sesoi must be a finite number > 0; got {self.sesoi!r}")
        if self.who not in ("source", "project"):
            raise ConfigError(f"reading: who must be 'source' or 'project'; got {self.who!r}")

    def at(self, scale: float) -> Reading:
        """This reading for a run ``scale`` times the design's length (horizon rounded, >= 1)."""
        if self.horizon is None or scale == 1:
            return self
        return replace(self, horizon=max(1, round(self.horizon * scale)))

    def describe(self, epochs: int) -> str:
        """``val_loss at epoch 60 of 100 (source's; SESOI 0.02)``."""
        at = epochs if self.horizon is None else self.horizon
        split = "" if self.split == "validation" else f" on the {self.split} split"
        return (
            f"{self.metric}{split} at epoch {at} of {epochs} ({self.who}'s; SESOI {self.sesoi:g})"
        )


PROJECT = Reading()


@dataclass(frozen=True)
class Decision:
    """The verdict of one reading of a claim, with the comparisons behind it."""

    reading: Reading
    verdict: str
    summary: str
    comparisons: tuple[Comparison, ...]
    #: per comparison: +1 when a positive ``a - b`` supports the claim, -1 when a negative does
    signs: tuple[int, ...]
    #: per comparison: what it tests, e.g. ``exponential - linear (val_acc; claim > 0)``
    names: tuple[str, ...]
    #: per comparison: its own verdict (see :func:`decide_comparison`)
    each: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The judgement of one claim: the headline verdict (its first reading's) and every reading's
    decision, with the source's sentence it tests."""

    claim: str
    about: str
    verdict: str
    evidence: str
    quote: str = ""
    family: str = ""
    decisions: tuple[Decision, ...] = ()
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Claim(Protocol):
    """A source claim that can be judged on an experiment's results."""

    text: str
    quote: str
    family: str
    readings: tuple[Reading, ...]

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        """The raw comparisons of one reading: ``(name, sign, comparison)``."""
        ...

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        """The claim's verdict from its comparisons' verdicts, and a one-line summary."""
        ...


def resolve(label: str, context: Mapping[str, Any]) -> str:
    """``@key`` -> ``context[key]``; any other label as is."""
    if label.startswith("@"):
        key = label[1:]
        if key not in context:
            raise ConfigError(
                f"claim: {label!r} names no chosen schedule; context has {sorted(context)}"
            )
        return str(context[key])
    return label


# --- per-seed measures -----------------------------------------------------------------------


def _upto(results: Results, label: str, metric: str, horizon: int | None) -> dict[int, np.ndarray]:
    series = results.series(label, metric)
    if horizon is None:
        return series
    short = [s for s, v in series.items() if v.size < horizon]
    if short:
        raise ConfigError(
            f"claim: {label!r} has fewer than {horizon} epochs (seeds {short}); the reading's "
            f"horizon is beyond the run"
        )
    return {s: v[:horizon] for s, v in series.items()}


def final_values(
    results: Results, label: str, metric: str, horizon: int | None = None
) -> dict[int, float]:
    """Per seed, ``metric`` after ``horizon`` epochs (the last when ``None``); a diverged run
    scores :data:`CHANCE` accuracy or an infinite loss."""
    out = {}
    for seed, v in _upto(results, label, metric, horizon).items():
        x = float(v[-1]) if v.size else math.nan
        if not math.isfinite(x):
            x = CHANCE if metric.endswith("_acc") else math.inf
        out[seed] = x
    return out


def rises(results: Results, label: str, horizon: int | None = None) -> dict[int, float]:
    """Per seed, the relative rise of the validation loss above its minimum at ``horizon``:
    ``val_loss[h] / min(val_loss[:h]) - 1``; a diverged run rises without bound (``inf``)."""
    out = {}
    for seed, v in _upto(results, label, "val_loss", horizon).items():
        out[seed] = float(v[-1] / np.min(v) - 1) if np.isfinite(v).all() else math.inf
    return out


def minimum_epochs(results: Results, label: str, horizon: int | None = None) -> dict[int, float]:
    """Per seed, the epoch (1-based) of the lowest validation loss up to ``horizon`` (before a
    divergence, if any)."""
    out = {}
    for seed, v in _upto(results, label, "val_loss", horizon).items():
        finite = np.where(np.isfinite(v), v, np.inf)
        out[seed] = float(np.argmin(finite) + 1)
    return out


def _paired(
    x: Mapping[int, float], y: Mapping[int, float], a: str, b: str, sesoi: float | None
) -> Comparison:
    seeds = sorted(set(x) & set(y))
    return compare_paired([x[s] for s in seeds], [y[s] for s in seeds], a=a, b=b, sesoi=sesoi)


def _against(x: Mapping[int, float], value: float, a: str, b: str) -> Comparison:
    """One sample against a constant (``b`` names it): the paired machinery with ``y = value``."""
    seeds = sorted(x)
    return compare_paired([x[s] for s in seeds], [value] * len(seeds), a=a, b=b)


# --- deciding ----------------------------------------------------------------------------------


def decide_comparison(c: Comparison, sign: int, alpha: float, chaotic: bool = False) -> str:
    """The verdict of one comparison whose claim is ``sign * (a - b) > 0`` (see the module
    docstring); the Holm-adjusted p-values decide (:func:`inference.decide` at ``alpha``)."""
    verdict = decide(replace(c, alpha=alpha), sign, chaotic)
    return {BETTER: CONFIRMED, WORSE: REFUTED}.get(verdict, verdict)


def _all_of(verdicts: Sequence[str]) -> str:
    """A claim that needs every comparison: refuted if one is, confirmed if all are, no
    difference if the rest are level (none refuted or unknown), else inconclusive."""
    if REFUTED in verdicts:
        return REFUTED
    if verdicts and all(v == CONFIRMED for v in verdicts):
        return CONFIRMED
    if verdicts and all(v in (CONFIRMED, NO_DIFFERENCE) for v in verdicts):
        return NO_DIFFERENCE
    return INCONCLUSIVE


def _counts(verdicts: Sequence[str]) -> str:
    return ", ".join(f"{verdicts.count(k)} {k}" for k in VERDICTS if verdicts.count(k))


@dataclass(frozen=True)
class Better:
    """ "``a`` ends better than ``b``": the paired difference of the reading's metric."""

    text: str
    a: str
    b: str
    readings: tuple[Reading, ...] = (PROJECT,)
    family: str = "main"
    quote: str = ""

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        a, b = resolve(self.a, context), resolve(self.b, context)
        m, h = reading.metric, reading.horizon
        c = _paired(final_values(results, a, m, h), final_values(results, b, m, h), a, b,
                    reading.sesoi)  # fmt: skip
        sign = 1 if METRICS[m] else -1
        return [(f"{a} - {b} ({m}; claim {'>' if sign > 0 else '<'} 0)", sign, c)]

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        return decisions[0], ""


@dataclass(frozen=True)
class Best:
    """ "``a`` ends better than each of ``rivals``": one paired comparison per rival, all needed."""

    text: str
    a: str
    rivals: tuple[str, ...]
    readings: tuple[Reading, ...] = (PROJECT,)
    family: str = "main"
    quote: str = ""

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        a = resolve(self.a, context)
        out = []
        for rival in (resolve(r, context) for r in self.rivals):
            if rival != a:
                out += Better("", a, rival).tests(results, context, reading)
        return out

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        return _all_of(decisions), f"vs {len(decisions)} rivals: {_counts(decisions)}"


@dataclass(frozen=True)
class Overfits:
    """ "``a`` overfits" (or, with ``expected=False``, "``a`` does not overfit"): the rise of the
    validation loss above its minimum, per seed, against the reading's SESOI (a relative rise,
    e.g. 0.1 = 10%): confirmed when the mean rise is significantly above it (below it for
    "does not overfit")."""

    text: str
    a: str
    expected: bool = True
    readings: tuple[Reading, ...] = (Reading("val_loss", sesoi=0.1),)
    family: str = "overfitting"
    quote: str = ""

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        a = resolve(self.a, context)
        c = _against(rises(results, a, reading.horizon), reading.sesoi, a,
                     f"rise {reading.sesoi:.0%}")  # fmt: skip
        side = ">" if self.expected else "<"
        return [(f"{a}: val_loss rise over its minimum - {reading.sesoi:.0%} (claim {side} 0)",
                 1 if self.expected else -1, c)]  # fmt: skip

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        return decisions[0], ""


@dataclass(frozen=True)
class OverfitsEarly:
    """ "``a`` overfits quickly": the rise above SESOI (as :class:`Overfits`) *and* the epoch of
    the validation minimum significantly within the first ``early`` of the horizon."""

    text: str
    a: str
    early: float = 0.25
    readings: tuple[Reading, ...] = (Reading("val_loss", sesoi=0.1),)
    family: str = "overfitting"
    quote: str = ""

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        a = resolve(self.a, context)
        rise = Overfits("", a, readings=(reading,)).tests(results, context, reading)
        epochs = reading.horizon or len(next(iter(results.require(a).values())))
        limit = self.early * epochs
        at = _against(minimum_epochs(results, a, reading.horizon), limit, a, f"epoch {limit:g}")
        return [*rise, (f"{a}: epoch of the val_loss minimum - {limit:g} (claim < 0)", -1, at)]

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        return _all_of(decisions), ""


@dataclass(frozen=True)
class Diverges:
    """ "``a`` diverges": the share of seeds whose loss became NaN/inf, with its exact
    (Clopper-Pearson) 95% interval from scipy's ``binomtest``: confirmed when it lies above 1/2
    (most runs diverge), refuted when below.  One binomial test; no Holm family."""

    text: str
    a: str
    readings: tuple[Reading, ...] = (PROJECT,)
    family: str = ""
    quote: str = ""

    def rate(self, results: Results, context: Mapping[str, Any]) -> tuple[int, int, Any]:
        a = resolve(self.a, context)
        n, k = len(results.require(a)), results.diverged(a)
        return k, n, sps.binomtest(k, n).proportion_ci(0.95, method="exact")

    def tests(
        self, results: Results, context: Mapping[str, Any], reading: Reading
    ) -> list[tuple[str, int, Comparison]]:
        return []

    def decide(self, decisions: Sequence[str], reading: Reading) -> tuple[str, str]:
        return INCONCLUSIVE, ""


Item = tuple[Claim, int]  # a claim and the index of one of its readings


def judge_all(
    claims: Sequence[Claim],
    results: Results,
    context: Mapping[str, Any],
    design: Design,
    scale: float = 1.0,
) -> list[Verdict]:
    """Judge every claim under each of its readings (horizons times ``scale``: the run's length
    over the declared design's), Holm-correcting within each family (per reading kind); a claim
    that cannot be judged (no runs for a label, a horizon beyond the runs) is inconclusive,
    saying why."""
    raw: dict[Item, list[tuple[str, int, Comparison]]] = {}
    errors: dict[int, str] = {}
    for i, claim in enumerate(claims):
        for j, reading in enumerate(claim.readings):
            try:
                raw[(claim, j)] = claim.tests(results, context, reading.at(scale))
            except ValueError as err:
                errors[i] = str(err)
    families: dict[tuple[str, str], list[Item]] = {}
    for (claim, j), tests in raw.items():
        if tests:
            families.setdefault((claim.family, claim.readings[j].who), []).append((claim, j))
    adjusted: dict[Item, list[Comparison]] = {}
    for items in families.values():
        flat = [c for item in items for _, _, c in raw[item]]
        out = iter(adjust(flat, target_power=design.power))
        for item in items:
            adjusted[item] = [next(out) for _ in raw[item]]
    verdicts = []
    for i, claim in enumerate(claims):
        if i in errors:
            verdicts.append(Verdict(claim.text, "-", INCONCLUSIVE, f"not judged: {errors[i]}",
                                    claim.quote, claim.family))  # fmt: skip
            continue
        if isinstance(claim, Diverges):
            verdicts.append(_judge_divergence(claim, results, context))
            continue
        decisions = []
        for j, reading in enumerate(claim.readings):
            names = [n for n, _, _ in raw[(claim, j)]]
            signs = [s for _, s, _ in raw[(claim, j)]]
            comps = adjusted.get((claim, j), [])
            chaotic = claim.family in design.chaotic_families
            each = [decide_comparison(c, s, design.alpha, chaotic)
                    for c, s in zip(comps, signs, strict=True)]  # fmt: skip
            verdict, summary = claim.decide(each, reading)
            decisions.append(Decision(reading.at(scale), verdict, summary, tuple(comps),
                                      tuple(signs), tuple(names), tuple(each)))  # fmt: skip
        head = decisions[0]
        about = ", ".join(dict.fromkeys(c.a for c in head.comparisons)) + (
            " vs " + ", ".join(dict.fromkeys(c.b for c in head.comparisons))
        )
        verdicts.append(Verdict(claim.text, about, head.verdict, _evidence(decisions), claim.quote,
                                claim.family, tuple(decisions)))  # fmt: skip
    return verdicts


def _judge_divergence(claim: Diverges, results: Results, context: Mapping[str, Any]) -> Verdict:
    k, n, ci = claim.rate(results, context)
    verdict = CONFIRMED if ci.low > 0.5 else (REFUTED if ci.high < 0.5 else INCONCLUSIVE)
    a = resolve(claim.a, context)
    evidence = (f"{a}: diverged in {k}/{n} seeds; share {k / n:.0%} [{ci.low:.0%}, {ci.high:.0%}] "
                f"(exact 95% interval; confirmed above 50%, refuted below)")  # fmt: skip
    return Verdict(claim.text, a, verdict, evidence, claim.quote, claim.family,
                   numbers={"diverged": k, "n": n, "low": ci.low, "high": ci.high})  # fmt: skip


def _num(x: float, digits: int = 4) -> str:
    return "nan" if not math.isfinite(x) else f"{x:+.{digits}f}"


def describe(c: Comparison, sign: int = 1) -> str:
    """``+0.0123 [t +0.0050, +0.0196; boot +0.0061, +0.0190], p_holm=0.012, sign 9/10
    p_holm=0.04, TOST p_holm=0.9, n=10``."""
    p = "-" if math.isnan(c.p_t_adj) else ("<1e-4" if c.p_t_adj < 1e-4 else f"{c.p_t_adj:.3g}")
    wins, losses = (c.sign.wins, c.sign.losses) if sign > 0 else (c.sign.losses, c.sign.wins)
    parts = [
        f"{_num(c.mean_diff)} [t {_num(c.low)}, {_num(c.high)}; bootstrap "
        f"{_num(c.boot_low)}, {_num(c.boot_high)}]",
        f"p_holm={p}",
        f"claim's side in {wins}/{wins + losses + c.sign.ties} seeds (sign test p_holm="
        f"{c.p_sign_adj:.3g})",
    ]
    if c.sesoi:
        parts.append(f"TOST ±{c.sesoi:g} p_holm={c.p_tost_adj:.3g}")
    return ", ".join(parts) + f", n={c.n}"


def _evidence(decisions: Sequence[Decision]) -> str:
    lines = []
    for d in decisions:
        shown = list(zip(d.names, d.signs, d.comparisons, strict=True))
        head = f"{d.reading.who}'s reading: {d.verdict}" + (f" ({d.summary})" if d.summary else "")
        lines.append(head + ". " + "; ".join(f"{n}: {describe(c, s)}" for n, s, c in shown))
    return " | ".join(lines)
