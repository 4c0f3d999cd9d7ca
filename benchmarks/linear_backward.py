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
from round to round); the ratios autograd / hand-written are medians of the per-round ratios, and
the smallest per-round ratio is given as "min".  Every method trains its own copy of the same
members on the same minibatches with the same rates, so after the run their parameters must agree
to float32 tolerance (printed as a check that they did the same work).

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


def time_steps(step: Callable[[], None], steps: int) -> float:
    """Wall seconds per step over ``steps`` consecutive steps."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


@torch.no_grad()
def params_gap(a: StackedModel, b: StackedModel) -> float:
    """``max |a - b| / max |b|`` over all parameters."""
    num = max(
        float((p - q).abs().max())
        for p, q in zip(a.params.values(), b.params.values(), strict=True)
    )
    return num / max(float(q.abs().max()) for q in b.params.values())


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
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for r in range(args.rounds):
        for method in METHODS[r % len(METHODS) :] + METHODS[: r % len(METHODS)]:
            times[method].append(time_steps(steps[method], args.steps))
    base = times["hand-written"]
    row = {
        "layout": layout_name,
        "batch_size": batch,
        "members": len(seeds),
        "minibatches_per_step": len(seeds) if groups is None else len(groups),
        "ms_per_step": {m: statistics.median(t) * 1e3 for m, t in times.items()},
        "ratio": {
            m: statistics.median(a / h for a, h in zip(t, base, strict=True))
            for m, t in times.items()
        },
        "ratio_min": {
            m: min(a / h for a, h in zip(t, base, strict=True)) for m, t in times.items()
        },
        "params_rel_gap": {m: params_gap(models[m], models["hand-written"]) for m in METHODS},
        "rounds": times,
    }
    print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), file=sys.stderr)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument(
        "--per-seed", type=int, default=SCHEDULES, help="members per seed (3 seeds)"
    )
    parser.add_argument("--steps", type=int, default=20, help="consecutive steps per timing")
    parser.add_argument("--rounds", type=int, default=7, help="timings per method (medians)")
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
        "load_average": [round(v, 2) for v in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "steps": args.steps,
        "rounds": args.rounds,
        "rows": [measure(ds, name, b, args) for name in args.layouts for b in args.batch_sizes],
    }
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def markdown(result: dict) -> str:
    """The results as a markdown section: ms per step and the ratios against hand-written."""
    header = ["layout", "batch", *(f"{m} ms/step" for m in METHODS)]
    header += [f"{m} / hand-written, median (min)" for m in METHODS[1:]]
    rows = []
    for r in result["rows"]:
        cells = [f"{r['layout']} ({r['minibatches_per_step']} minibatches)", str(r["batch_size"])]
        cells += [f"{r['ms_per_step'][m]:.2f}" for m in METHODS]
        cells += [f"{r['ratio'][m]:.2f}x ({r['ratio_min'][m]:.2f}x)" for m in METHODS[1:]]
        rows.append(cells)
    gap = max(g for r in result["rows"] for g in r["params_rel_gap"].values())
    return "\n".join(
        [
            f"### Hand-written backward vs autograd ({result['date']})",
            "",
            f"Machine: {result['machine']}; {result['threads']} torch threads, load average "
            f"{result['load_average']}. MLP 784-128-10 x {result['rows'][0]['members']} members, "
            f"SGD momentum {MOMENTUM}; {result['rounds']} rounds of {result['steps']} steps per "
            "method, ratios are medians of per-round ratios.",
            "",
            markdown_table(header, rows),
            "",
            f"Largest relative parameter gap between the methods after training: {gap:.1e}.",
        ]
    )


if __name__ == "__main__":
    main()
