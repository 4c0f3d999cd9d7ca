"""Time to produce a whole learning-rate curve: schedlab against its peers, in one run.

Three schedules, each as a 1,000,000-step curve (``--steps``):

* ``warmup+cosine``: linear warmup over 1000 steps from ``lr/100`` to ``lr``, then cosine to 0;
* ``one_cycle``: PyTorch ``OneCycleLR`` defaults (pct_start 0.3, cos, div 25, final div 1e4);
* ``cosine_restarts``: SGDR with ``period = steps/1000`` and ``t_mult = 2``;

and five ways to compute each:

(a) schedlab, ``sched(np.arange(N))`` (float64, validated steps);
(b) the equivalent PyTorch scheduler stepped with a real optimizer, reading the rate each step;
    it costs microseconds per step, so it is timed over ``--torch-steps`` steps and scaled to N;
(c) the bare numpy closed form a user would write by hand (float64);
(d) optax's equivalent schedule, ``jax.jit(jax.vmap(schedule))`` on a float32 ``jnp`` array (optax
    schedules take a scalar count; this is the peer to catch);
(e) schedlab under ``jax.jit`` via ``sched.evaluate(t, jnp)`` on the same float32 array;
(f) schedlab's float32 numpy path, ``sched.evaluate(np.arange(N, dtype=np.float32))``.

Times are medians over ``--repeats`` calls after warm-up calls (JIT compilation excluded); with
``--rounds R`` the whole measurement is repeated and the best median of each cell is kept.
Before timing, the script checks that the paths compute the same curve: (a) and (c) to 1e-9 and
(b) to 1e-6 of the peak rate, (e) and (f) to float32 precision (1e-5).  optax's one-cycle places its
phase boundaries one step later than PyTorch, so (d) is only reported.  Exit status 1 if a check fails.

Run: ``python benchmarks/curve.py`` (``make bench``); ``--steps 100000`` for a quick look.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    fmt_ms,
    machine_line,
    markdown_table,
    median_seconds,
    peak_relative_gap,
)

import schedlab

PEAK = 0.1  # peak learning rate of every curve
WARMUP = 1000  # warmup steps of warmup+cosine
START = PEAK / 100  # warmup start (PyTorch LinearLR needs start_factor > 0)
TOL_EXACT = 1e-9  # (a) vs (c), as a fraction of the peak
TOL_TORCH = 1e-6  # (a) vs (b): PyTorch's chained updates drift by about n * eps
TOL_F32 = 1e-5  # (e), (f) vs (a): float32 steps and arithmetic


@dataclass(frozen=True)
class Case:
    """One schedule, written once for each way of computing it; ``n`` is the curve length."""

    name: str
    schedlab: Callable[[int], schedlab.Schedule]
    bare: Callable[[np.ndarray, int], np.ndarray]
    torch: Callable[[Any, int], Any]
    optax: Callable[[int], Callable[[Any], Any]]


# --- warmup + cosine ------------------------------------------------------------------------


def warmup_cosine_schedlab(n: int) -> schedlab.Schedule:
    return schedlab.warmup(schedlab.cosine(PEAK, steps=n - WARMUP), steps=WARMUP, start_lr=START)


def warmup_cosine_bare(t: np.ndarray, n: int) -> np.ndarray:
    decay = n - WARMUP
    return np.where(
        t < WARMUP,
        START + (PEAK - START) * t / WARMUP,
        PEAK * 0.5 * (1 + np.cos(np.pi * np.minimum(t - WARMUP, decay) / decay)),
    )


def warmup_cosine_torch(optimizer: Any, n: int) -> Any:
    from torch.optim import lr_scheduler as lrs

    ramp = lrs.LinearLR(optimizer, start_factor=START / PEAK, total_iters=WARMUP)
    decay = lrs.CosineAnnealingLR(optimizer, T_max=n - WARMUP)
    return lrs.SequentialLR(optimizer, [ramp, decay], milestones=[WARMUP])


def warmup_cosine_optax(n: int) -> Callable[[Any], Any]:
    import optax

    return optax.warmup_cosine_decay_schedule(START, PEAK, warmup_steps=WARMUP, decay_steps=n)


# --- one cycle (PyTorch OneCycleLR defaults) ------------------------------------------------

PCT, DIV, FINAL_DIV = 0.3, 25.0, 1e4


def one_cycle_schedlab(n: int) -> schedlab.Schedule:
    return schedlab.one_cycle(
        PEAK, steps=n, pct_start=PCT, div_factor=DIV, final_div_factor=FINAL_DIV
    )


def one_cycle_bare(t: np.ndarray, n: int) -> np.ndarray:
    # One cosine for both phases: the performance-aware version of the two-branch where.
    up = PCT * n - 1
    rising = t <= up
    x = np.where(rising, t / up, (t - up) / (n - 1 - up))
    start = np.where(rising, PEAK / DIV, PEAK)
    end = np.where(rising, PEAK, PEAK / DIV / FINAL_DIV)
    return end + (start - end) * 0.5 * (1 + np.cos(np.pi * x))


def one_cycle_torch(optimizer: Any, n: int) -> Any:
    from torch.optim import lr_scheduler as lrs

    return lrs.OneCycleLR(
        optimizer, max_lr=PEAK, total_steps=n, pct_start=PCT, div_factor=DIV,
        final_div_factor=FINAL_DIV, cycle_momentum=False,
    )  # fmt: skip


def one_cycle_optax(n: int) -> Callable[[Any], Any]:
    import optax

    return optax.cosine_onecycle_schedule(n, PEAK, PCT, DIV, FINAL_DIV)


# --- cosine with warm restarts, t_mult = 2 --------------------------------------------------


def period_of(n: int) -> int:
    return max(1, n // 1000)


def restarts_schedlab(n: int) -> schedlab.Schedule:
    return schedlab.cosine_restarts(PEAK, period=period_of(n), t_mult=2)


def restarts_bare(t: np.ndarray, n: int) -> np.ndarray:
    period = period_of(n)
    length = period * 2 ** np.floor(np.log2(t / period + 1))
    return PEAK * 0.5 * (1 + np.cos(np.pi * (t - (length - period)) / length))


def restarts_torch(optimizer: Any, n: int) -> Any:
    from torch.optim import lr_scheduler as lrs

    return lrs.CosineAnnealingWarmRestarts(optimizer, T_0=period_of(n), T_mult=2)


def restarts_optax(n: int) -> Callable[[Any], Any]:
    import optax

    cycles, covered, length = [], 0, period_of(n)
    while covered < n:
        cycles.append(
            {"init_value": PEAK, "peak_value": PEAK, "warmup_steps": 0, "decay_steps": length}
        )
        covered, length = covered + length, 2 * length
    return optax.sgdr_schedule(cycles)


CASES = (
    Case(
        "warmup+cosine",
        warmup_cosine_schedlab,
        warmup_cosine_bare,
        warmup_cosine_torch,
        warmup_cosine_optax,
    ),
    Case("one_cycle", one_cycle_schedlab, one_cycle_bare, one_cycle_torch, one_cycle_optax),
    Case("cosine_restarts", restarts_schedlab, restarts_bare, restarts_torch, restarts_optax),
)

# --- measurement ----------------------------------------------------------------------------


def torch_curve(case: Case, n: int) -> tuple[float, np.ndarray]:
    """Step ``case``'s PyTorch scheduler through ``n`` steps: (seconds per step, the rates)."""
    import time

    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=PEAK)
    scheduler = case.torch(optimizer, n)
    optimizer.step()  # no gradient, no update; PyTorch warns if the scheduler steps first
    rates = [scheduler.get_last_lr()[0]]
    record = rates.append
    start = time.perf_counter()
    for _ in range(n - 1):
        scheduler.step()
        record(scheduler.get_last_lr()[0])
    per_step = (time.perf_counter() - start) / (n - 1)
    return per_step, np.asarray(rates)


@dataclass
class Result:
    """Seconds for an N-step curve per method, and the agreement gaps (fraction of the peak)."""

    seconds: dict[str, float]
    gaps: dict[str, float]


METHODS = {
    "a": "(a) schedlab numpy float64",
    "b": "(b) PyTorch scheduler, stepped",
    "c": "(c) bare numpy float64",
    "d": "(d) optax, jax.jit float32",
    "e": "(e) schedlab, jax.jit float32",
    "f": "(f) schedlab numpy float32",
}


def measure(case: Case, n: int, torch_n: int, repeats: int, torch_repeats: int) -> Result:
    import jax
    import jax.numpy as jnp

    sched = case.schedlab(n)
    steps = np.arange(n)
    steps32 = np.arange(n, dtype=np.float32)
    jsteps = jnp.arange(n, dtype=jnp.float32)
    optax_jit = jax.jit(jax.vmap(case.optax(n)))  # optax schedules take a scalar count
    schedlab_jit = jax.jit(lambda t: sched.evaluate(t, jnp))

    reference = sched(steps)
    torch_per_step, torch_rates = torch_curve(case, torch_n)
    short = case.schedlab(torch_n)(np.arange(torch_n))
    gaps = {
        "c": peak_relative_gap(case.bare(steps, n), reference),
        "b": peak_relative_gap(torch_rates, short),
        "d": peak_relative_gap(np.asarray(optax_jit(jsteps)), reference),
        "e": peak_relative_gap(np.asarray(schedlab_jit(jsteps)), reference),
        "f": peak_relative_gap(sched.evaluate(steps32), reference),
    }
    seconds = {
        "a": median_seconds(lambda: sched(steps), repeats),
        "c": median_seconds(lambda: case.bare(steps, n), repeats),
        "d": median_seconds(lambda: optax_jit(jsteps).block_until_ready(), repeats),
        "e": median_seconds(lambda: schedlab_jit(jsteps).block_until_ready(), repeats),
        "f": median_seconds(lambda: sched.evaluate(steps32), repeats),
    }
    per_step = sorted(
        [torch_per_step] + [torch_curve(case, torch_n)[0] for _ in range(torch_repeats - 1)]
    )
    seconds["b"] = per_step[len(per_step) // 2] * n
    return Result(seconds, gaps)


def check(results: dict[str, Result]) -> list[str]:
    """The failed agreement checks, as lines."""
    limits = {"c": TOL_EXACT, "b": TOL_TORCH, "e": TOL_F32, "f": TOL_F32}
    return [
        f"{name}: {METHODS[key]} differs from (a) by {result.gaps[key]:.2e} of the peak "
        f"(limit {limit:g})"
        for name, result in results.items()
        for key, limit in limits.items()
        if not result.gaps[key] <= limit
    ]


def report(results: dict[str, Result], n: int, torch_n: int, repeats: int, rounds: int) -> str:
    names = list(results)
    times = markdown_table(
        ["method", *names],
        [[METHODS[key], *(fmt_ms(results[c].seconds[key]) for c in names)] for key in METHODS],
    )
    gaps = markdown_table(
        ["agreement with (a), max abs difference / peak", *names],
        [[METHODS[key], *(f"{results[c].gaps[key]:.1e}" for c in names)] for key in "cbdef"],
    )

    def ratio(top: str, bottom: str) -> list[str]:
        return [f"{results[c].seconds[top] / results[c].seconds[bottom]:.3g}x" for c in names]

    ratios = markdown_table(
        ["ratio", *names, "target"],
        [
            ["PyTorch (b) / schedlab (a): schedlab faster by", *ratio("b", "a"), ">= 100x"],
            ["schedlab (a) / bare numpy (c)", *ratio("a", "c"), "<= 1.5x"],
            ["schedlab (a) / optax-jit (d)", *ratio("a", "d"), "(peer)"],
            ["schedlab-jit (e) / optax-jit (d)", *ratio("e", "d"), "(peer)"],
            ["schedlab float32 (f) / optax-jit (d)", *ratio("f", "d"), "(peer)"],
        ],
    )
    return "\n\n".join(
        [
            f"Machine: {machine_line(['numpy', 'torch', 'jax', 'optax'])}",
            f"Time for one {n:,}-step curve (median of {repeats} calls after warm-up, best of "
            f"{rounds} round(s)); (b) timed over {torch_n:,} steps and scaled per step to {n:,}.",
            times,
            ratios,
            gaps,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="curve length N")
    parser.add_argument("--torch-steps", type=int, default=100_000, help="steps timed for (b)")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per median")
    parser.add_argument("--torch-repeats", type=int, default=3, help="timed runs of (b)")
    parser.add_argument("--rounds", type=int, default=1, help="keep the best of this many medians")
    args = parser.parse_args(argv)
    for name in ("steps", "torch_steps", "repeats", "torch_repeats", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if min(args.steps, args.torch_steps) <= 2 * WARMUP:
        parser.error(f"--steps and --torch-steps must be > {2 * WARMUP}")

    import torch

    torch.set_num_threads(1)
    results: dict[str, Result] = {}
    for _ in range(args.rounds):
        for case in CASES:
            new = measure(case, args.steps, args.torch_steps, args.repeats, args.torch_repeats)
            old = results.setdefault(case.name, new)
            for key, value in new.seconds.items():
                old.seconds[key] = min(old.seconds[key], value)
    print(report(results, args.steps, args.torch_steps, args.repeats, args.rounds))
    failed = check(results)
    for line in failed:
        print("CHECK FAILED:", line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
