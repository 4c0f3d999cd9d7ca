"""Benchmark: one training step of the stacked MNIST MLP, hand-written path vs autograd, same layout.

The model: MLP 784-128-10 stacked for K = 15 members (5 schedules x 3 seeds, as in
``benchmarks/sweep.py``) as one :class:`~schedlab.lab.train.models.StackedModel`, trained with
``BatchedSGD`` (momentum 0.9) on MNIST minibatches gathered beforehand (the gather is not timed).
A *step* is what ``BatchedTrainer`` runs per minibatch: ``loss_and_grads`` (forward, loss,
backward) and the SGD-momentum update, timed at batch sizes 64 and 256 for:

- hand-written: the all-linear path (:mod:`schedlab.lab.train.linear`): batched matmuls, the fused
  cross-entropy, momentum accumulated inside the weight-gradient matmuls, then
  ``step_accumulated``; the trainer's step;
- hand-written, autograd loss: the same with a loss that hides ``value_and_grad``, so the
  cross-entropy and its gradient go through autograd (isolates the fused loss);
- autograd, accumulate: the autograd path forced on the same model
  (``StackedModel(..., _autograd=True)``: ``torch.func.vmap`` over ``functional_call``,
  ``torch.autograd.grad``), with the trainer's step (the gradients accumulated into the momentum
  buffers, then ``step_accumulated``): what the trainer would run without the hand-written path;
- autograd, step: the autograd path with ``optimizer.step(grads)`` (momentum and update in the
  optimizer), the best an autograd step does here.

Two layouts of the 15 members: ``shared``, seed by seed as sweeps order them (the 5 members of a
seed share each minibatch: 3 minibatches per step, the hand-written path runs its first layer as one
matmul per seed; the autograd path repeats each minibatch for its members), and ``own``, schedule
by schedule (no two neighbours share a seed: 15 minibatches, one per member).

Each round times every method for ``--steps`` consecutive steps (the order of the methods rotates
from round to round), in wall time and in CPU time of this process (``time.process_time``); the
ratios method / hand-written are medians of the per-round ratios, and the smallest per-round wall
ratio is given as "min".  Every method trains its own copy of the same members on the same
minibatches with the same rates.  The check that they do the same work: after the run, every
method's path (its model) computes gradients at the hand-written model's parameters on one
minibatch, compared with the hand-written path's (float32 tolerance: about 1e-7 at initialisation,
up to a few 1e-5 once training has shrunk the gradients, whose batch sums then cancel more; the
two paths' matmul kernels sum in different orders).  The parameters after training are compared too (per
member: median and max), for information only: a 1e-7 difference that moves one ReLU
pre-activation across 0 for one sample changes that step's gradient by O(1/B), and momentum carries
it on, so now and then one member drifts 1e-3..1e-1 apart over 100 steps while the others stay
within 1e-6.

Usage: ``python benchmarks/linear_backward.py [--batch-sizes 64 256] [--steps 20] [--rounds 7]
[--threads N] [--json out.json]`` (torch's default threads unless ``--threads``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import machine_line, markdown_table

from schedlab.lab import load_dataset
from schedlab.lab.train.losses import MemberCrossEntropy
from schedlab.lab.train.models import StackedModel
from schedlab.lab.train.optim import BatchedSGD

SEEDS = (0, 1, 2)
SCHEDULES = 5  # members per seed
MOMENTUM = 0.9
METHODS = ("hand-written", "hand-written, autograd loss", "autograd, accumulate", "autograd, step")
LAYOUTS = ("shared", "own")


class AutogradLoss:
    """A member cross-entropy without ``value_and_grad``: the hand-written path runs it through
    autograd on the outputs ``(K, B, classes)``."""

    def __init__(self, y: torch.Tensor) -> None:
        self.inner = MemberCrossEntropy(y)

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        return self.inner(out)


def layout(name: str, per_seed: int) -> tuple[list[int], tuple[int, ...] | None]:
    """``(seeds of the members, groups)``: seed by seed with one group per seed (``shared``), or
    schedule by schedule with a minibatch per member (``own``)."""
    if name == "shared":
        return [s for s in SEEDS for _ in range(per_seed)], (per_seed,) * len(SEEDS)
    return [s for _ in range(per_seed) for s in SEEDS], None


def minibatches(ds, seeds: list[int], groups, batch: int, count: int, shuffle_seed: int = 0):
    """``count`` (x, y) pairs: x ``(G, B, 1, 28, 28)`` (one minibatch per group, or per member),
    y ``(K, B)`` (each member's labels), drawn with each seed's own permutation."""
    x_all, y_all = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    sources = list(SEEDS) if groups is not None else seeds
    gens = {s: torch.Generator().manual_seed(shuffle_seed * 1000 + s) for s in set(sources)}
    pairs = []
    for _ in range(count):
        idx = {s: torch.randperm(len(x_all), generator=g)[:batch] for s, g in gens.items()}
        x = torch.stack([x_all[idx[s]] for s in sources])
        y = torch.stack([y_all[idx[s]] for s in seeds])
        pairs.append((x.contiguous(), y))
    return pairs


def make_step(method: str, seeds: list[int], groups, data, lr: torch.Tensor) -> tuple:
    """``(step, model)``: ``step()`` runs the next training step of ``method`` on its own fresh
    model, cycling through ``data``."""
    model = StackedModel("mlp", (1, 28, 28), 10, seeds, _autograd=method.startswith("autograd"))
    opt = BatchedSGD(model.params, momentum=MOMENTUM)
    sink = None if method == "autograd, step" else opt.accumulation_target()
    loss_of = AutogradLoss if method == "hand-written, autograd loss" else MemberCrossEntropy
    position = [0]

    def step() -> None:
        x, y = data[position[0] % len(data)]
        position[0] += 1
        _, _, grads = model.loss_and_grads(x, loss_of(y), groups, accumulate=sink)
        if sink is None:
            opt.step(grads, lr)
        else:
            opt.step_accumulated(lr)

    return step, model


def time_steps(step: Callable[[], None], steps: int) -> tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` per step over ``steps`` consecutive steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def member_gaps(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Per member k, ``max |a[k] - b[k]| / max |b[k]|`` over the ``(K, ...)`` tensors: ``(K,)``."""
    num = torch.stack([(p - q).flatten(1).abs().amax(1) for p, q in zip(a, b, strict=True)])
    return num.amax(0) / torch.stack([q.flatten(1).abs().amax(1) for q in b]).amax(0)


def params_gap(model: StackedModel, reference: StackedModel) -> tuple[float, float]:
    """``(median, max)`` over the members of their relative parameter gap to ``reference``."""
    with torch.no_grad():
        gaps = member_gaps(list(model.params.values()), list(reference.params.values()))
    return float(gaps.median()), float(gaps.max())


def grads_gap(model: StackedModel, reference: StackedModel, x, y, groups) -> float:
    """The largest relative gradient gap over the members between ``model`` and ``reference``,
    both at ``reference``'s parameters (copied into ``model``), on the minibatch ``(x, y)``."""
    with torch.no_grad():
        for key, p in model.params.items():
            p.copy_(reference.params[key])
    _, _, ref = reference.loss_and_grads(x, MemberCrossEntropy(y), groups)
    ref = [g.clone() for g in ref]  # the next call may reuse their buffers
    _, _, got = model.loss_and_grads(x, MemberCrossEntropy(y), groups)
    return float(member_gaps(got, ref).max())


def per_round_ratios(times: dict[str, list[float]], method: str) -> list[float]:
    """``times[method][r] / times["hand-written"][r]`` for every round r."""
    return [t / h for t, h in zip(times[method], times["hand-written"], strict=True)]


def measure(ds, layout_name: str, batch: int, args) -> dict:
    """One row: the methods' per-step times over the rounds, the ratios and the agreement."""
    seeds, groups = layout(layout_name, args.per_seed)
    data = minibatches(ds, seeds, groups, batch, args.minibatches)
    lr = torch.linspace(0.01, 0.1, len(seeds), dtype=torch.float64)
    steps, models = {}, {}
    for method in METHODS:
        steps[method], models[method] = make_step(method, seeds, groups, data, lr)
        for _ in range(args.warmups):
            steps[method]()
    walls: dict[str, list[float]] = {m: [] for m in METHODS}
    cpus: dict[str, list[float]] = {m: [] for m in METHODS}
    for r in range(args.rounds):
        for method in METHODS[r % len(METHODS) :] + METHODS[: r % len(METHODS)]:
            wall, cpu = time_steps(steps[method], args.steps)
            walls[method].append(wall)
            cpus[method].append(cpu)
    reference = models["hand-written"]
    params = {m: params_gap(models[m], reference) for m in METHODS}
    x, y = data[0]
    row = {
        "layout": layout_name,
        "batch_size": batch,
        "members": len(seeds),
        "minibatches_per_step": len(seeds) if groups is None else len(groups),
        "ms_per_step": {m: statistics.median(t) * 1e3 for m, t in walls.items()},
        "cpu_ms_per_step": {m: statistics.median(t) * 1e3 for m, t in cpus.items()},
        "ratio": {m: statistics.median(per_round_ratios(walls, m)) for m in METHODS},
        "ratio_min": {m: min(per_round_ratios(walls, m)) for m in METHODS},
        "ratio_cpu": {m: statistics.median(per_round_ratios(cpus, m)) for m in METHODS},
        "grads_rel_gap": {m: grads_gap(models[m], reference, x, y, groups) for m in METHODS},
        "params_rel_gap_median": {m: gap[0] for m, gap in params.items()},
        "params_rel_gap_max": {m: gap[1] for m, gap in params.items()},
        "rounds": {"wall": walls, "cpu": cpus},
    }
    print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), file=sys.stderr)
    return row


def load_average() -> list[float] | None:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument(
        "--per-seed", type=int, default=SCHEDULES, help="members per seed (3 seeds)"
    )
    parser.add_argument("--steps", type=int, default=5, help="consecutive steps per timing")
    parser.add_argument("--rounds", type=int, default=21, help="timings per method (medians)")
    parser.add_argument("--warmups", type=int, default=3, help="untimed steps per method first")
    parser.add_argument("--minibatches", type=int, default=8, help="distinct minibatches cycled")
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("mnist", train_size=args.train_size, val_fraction=0.2, seed=0)
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_line(["torch", "numpy"]),
        "threads": torch.get_num_threads(),
        "load_average": load_average(),
        "steps": args.steps,
        "rounds": args.rounds,
        "rows": [measure(ds, name, b, args) for name in args.layouts for b in args.batch_sizes],
        "load_average_after": load_average(),
    }
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def markdown(result: dict) -> str:
    """The results as a markdown section: ms per step and the ratios against hand-written."""
    header = ["layout", "batch", *(f"{m} ms/step" for m in METHODS)]
    header += [f"{m} / hand-written: wall median (min), CPU time" for m in METHODS[1:]]
    rows = []
    for r in result["rows"]:
        cells = [f"{r['layout']} ({r['minibatches_per_step']} minibatches)", str(r["batch_size"])]
        cells += [f"{r['ms_per_step'][m]:.2f}" for m in METHODS]
        cells += [
            f"{r['ratio'][m]:.2f}x ({r['ratio_min'][m]:.2f}x), {r['ratio_cpu'][m]:.2f}x"
            for m in METHODS[1:]
        ]
        rows.append(cells)
    grads = max(g for r in result["rows"] for g in r["grads_rel_gap"].values())
    median = max(g for r in result["rows"] for g in r["params_rel_gap_median"].values())
    largest = max(g for r in result["rows"] for g in r["params_rel_gap_max"].values())
    return "\n".join(
        [
            f"### Hand-written backward vs autograd ({result['date']})",
            "",
            f"Machine: {result['machine']}; {result['threads']} torch threads, load average "
            f"{result['load_average']} before, {result['load_average_after']} after. "
            f"MLP 784-128-10 x {result['rows'][0]['members']} members, SGD momentum {MOMENTUM}; "
            f"{result['rounds']} rounds of {result['steps']} steps per method, ratios are medians "
            "of per-round ratios.",
            "",
            markdown_table(header, rows),
            "",
            f"Same work: the largest relative gradient gap to hand-written at the same parameters "
            f"is {grads:.1e}. After training the parameters differ by {median:.1e} (median over the "
            f"members, worst row) and {largest:.1e} at most"
            + (" (a ReLU flip carried on by momentum)." if largest > 1e-4 else "."),
        ]
    )


if __name__ == "__main__":
    main()
