"""Per-``scheduler.step()`` overhead: schedlab's PyTorch adapters vs the equivalent built-ins.

For each case and 1 or 4 parameter groups, times ``scheduler.step()`` alone (no optimizer work) for
PyTorch's scheduler and for ``ScheduleLR`` / ``PlateauLR`` in the same run, interleaving repeats and
reporting medians; then checks that both produced the same rates (so they did the same work).
Target: schedlab <= 0.5x the built-in.

    .venv/bin/python benchmarks/step_overhead.py [--steps 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch.optim import lr_scheduler as tl

import schedlab
from schedlab.adapters.torch import PlateauLR, ScheduleLR

TARGET = 0.5
LR = 0.1


def optimizer(groups: int) -> torch.optim.Optimizer:
    params = [{"params": [torch.zeros(1, requires_grad=True)]} for _ in range(groups)]
    opt = torch.optim.SGD(params, lr=LR, momentum=0.9)
    opt.step()  # no gradients: a no-op that keeps PyTorch's step-order warning quiet
    return opt


def plateau_metrics(n: int) -> list[float]:
    rng = np.random.default_rng(0)
    return (1.0 + rng.random(n)).tolist()  # noisy, no trend: reductions every few updates


# name -> (built-in factory, schedlab factory, steps with a metric?)
Factory = Callable[[torch.optim.Optimizer, int], object]
CASES: dict[str, tuple[Factory, Factory, bool]] = {
    "StepLR": (
        lambda o, n: tl.StepLR(o, step_size=1000, gamma=0.5),
        lambda o, n: ScheduleLR(o, schedlab.step(LR, step_size=1000, gamma=0.5)),
        False,
    ),
    "CosineAnnealingLR": (
        lambda o, n: tl.CosineAnnealingLR(o, T_max=n),
        lambda o, n: ScheduleLR(o, schedlab.cosine(LR, steps=n)),
        False,
    ),
    "OneCycleLR": (
        lambda o, n: tl.OneCycleLR(o, max_lr=LR, total_steps=n + 1),
        lambda o, n: ScheduleLR(o, schedlab.one_cycle(LR, steps=n + 1)),  # cycles momentum too
        False,
    ),
    "SequentialLR warmup+cosine": (
        lambda o, n: tl.SequentialLR(
            o,
            [tl.LinearLR(o, start_factor=1e-3, total_iters=n // 10), tl.CosineAnnealingLR(o, n)],
            milestones=[n // 10],
        ),
        lambda o, n: ScheduleLR(
            o, schedlab.warmup(schedlab.cosine(LR, steps=n), steps=n // 10, start_lr=LR * 1e-3)
        ),
        False,
    ),
    "ReduceLROnPlateau": (
        lambda o, n: tl.ReduceLROnPlateau(o, factor=0.9, patience=3, min_lr=1e-6),
        lambda o, n: PlateauLR(o, schedlab.Plateau(LR, factor=0.9, patience=3, min_lr=1e-6)),
        True,
    ),
}


def time_steps(sched: object, n: int, metrics: list[float] | None) -> float:
    """Microseconds per ``step()`` over ``n`` calls."""
    step = sched.step  # type: ignore[attr-defined]
    if metrics is None:
        start = time.perf_counter()
        for _ in range(n):
            step()
    else:
        start = time.perf_counter()
        for m in metrics:
            step(m)
    return (time.perf_counter() - start) / n * 1e6


def measure(name: str, groups: int, n: int, repeats: int) -> tuple[float, float]:
    builtin, ours, with_metric = CASES[name]
    metrics = plateau_metrics(n) if with_metric else None
    times: dict[str, list[float]] = {"torch": [], "schedlab": []}
    for _ in range(repeats):  # interleaved, so that machine noise hits both alike
        for label, factory in (("torch", builtin), ("schedlab", ours)):
            opt = optimizer(groups)
            sched = factory(opt, n)
            times[label].append(time_steps(sched, n, metrics))
            rates = [g["lr"] for g in opt.param_groups]
            if label == "torch":
                reference = rates
        np.testing.assert_allclose(rates, reference, rtol=1e-9, err_msg=f"{name}: different work")
    return statistics.median(times["torch"]), statistics.median(times["schedlab"])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, numpy {np.__version__}, torch threads {torch.get_num_threads()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="step() calls per timing")
    parser.add_argument("--repeats", type=int, default=7, help="timings per case (median kept)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # PyTorch's deprecation chatter is not what we time
    print(f"# step() overhead, {datetime.date.today()}\n\nMachine: {machine()}")
    print(f"Medians of {args.repeats} interleaved runs of {args.steps} step() calls.\n")
    print("| scheduler | groups | PyTorch us/step | schedlab us/step | ratio | target <= 0.5 |")
    print("|---|---|---|---|---|---|")
    for name in CASES:
        for groups in (1, 4):
            ref, ours = measure(name, groups, args.steps, args.repeats)
            ratio = ours / ref
            verdict = "ok" if ratio <= TARGET else "MISSED"
            print(f"| {name} | {groups} | {ref:.3f} | {ours:.3f} | {ratio:.2f}x | {verdict} |")


if __name__ == "__main__":
    main()
