"""Benchmark: where the stacked engine's time goes, forward + backward only, by group size K.

For each model of ``benchmarks/user_model.py`` (``--models``): one training batch (``--batch``
Fashion-MNIST images) through the model alone, forward and backward (the peer), against the same
batch through K stacked copies in one ``vmap(grad_and_value(functional_call))`` call (what
:class:`schedlab.lab.train.stacked.StackedTrainer` runs each step), for each K of ``--ks``.  The
ratio is ``stacked / (K x alone)``: below 1 stacking saves time on these kernels, above 1 it
costs time.  The optimizer, the data indexing and the Python loop around a step are left out
(``benchmarks/user_model.py`` times whole epochs); each time is the median of ``--repeats``
after one warm-up.

Usage: ``python benchmarks/stacking_breakdown.py [--models cnn mlp] [--ks 2 12] [--batch 64]
[--repeats 3] [--threads N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import user_model as um  # the models and data of the user-model benchmark
from _common import median_seconds

from schedlab.lab.train.config import Member
from schedlab.lab.train.stacked import StackedTrainer


def measure(model: str, ks: list[int], batch: int, repeats: int) -> list[dict]:
    train, val = um.load(max(2 * batch, 200))
    task = um.make_task(model, train, val, "sgd", 1, "stacked")
    x, y = task.train.x[:batch], task.train.y[:batch]
    torch.manual_seed(0)
    net = task.model()
    net.train()

    def alone() -> None:
        net.zero_grad()
        task.loss(net(x), y).backward()

    t1 = median_seconds(alone, repeats, warmups=1)
    rows = []
    for k in ks:
        trainer = StackedTrainer(task, [Member("constant(0.1)", s) for s in range(k)],
                                 device=torch.device("cpu"))  # fmt: skip
        xs, ys = x.unsqueeze(0).expand(k, *x.shape), y.unsqueeze(0).expand(k, *y.shape)
        tk = median_seconds(
            lambda t=trainer, a=xs, b=ys: t._step(t.params, t.buffers, a, b), repeats, warmups=1
        )
        rows.append({"model": model, "k": k, "alone_ms": 1e3 * t1, "stacked_ms": 1e3 * tk,
                     "ratio": tk / (k * t1)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(um.MODELS), default=["cnn", "mlp"])
    parser.add_argument("--ks", nargs="+", type=int, default=[2, 12])
    parser.add_argument("--batch", type=int, default=um.BATCH)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [r for m in args.models for r in measure(m, args.ks, args.batch, args.repeats)]
    print(f"forward + backward of one batch of {args.batch}, {torch.get_num_threads()} torch "
          f"threads, torch {torch.__version__}\n")  # fmt: skip
    print("| model | K | alone, ms | K stacked, ms | stacked / (K x alone) |")
    print("| :--- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['k']} | {r['alone_ms']:.1f} | {r['stacked_ms']:.1f} | "
              f"{r['ratio']:.2f} |")  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
