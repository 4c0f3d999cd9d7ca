"""Benchmark: one batched trainer vs 15 sequential PyTorch training loops, same run, same machine.

The sweep: 5 schedules x 3 seeds, MLP 784-128-10, SGD (momentum 0.9), 10,000 MNIST samples
(8,000 train / 2,000 validation, ``TrainConfig`` defaults), evaluated on the validation split after
every epoch, at batch sizes 64 and 256.

- batched: ``BatchedTrainer`` with the 15 members as one stacked model;
- sequential: the usual loop, one model after another: ``torch.manual_seed(seed)``, the ``torch.nn``
  model, ``torch.optim.SGD``, a shuffling ``DataLoader``, the rate set per epoch, a validation pass.

Both see the same data orders and initialisations, so their final validation losses must agree
(printed as a check).  The machine's matmul rate is measured in the same run (best of a few
``torch.matmul`` of two float32 N x N matrices, 2 N^3 FLOPs each), and the batched trainer's
achieved FLOP rate is reported as a fraction of it.

FLOP count (per sample and per model): each Linear(in, out) costs 2*in*out forward and 2*in*out
for its weight gradient, plus 2*in*out for its input gradient except the first layer (the input
needs no gradient); bias, ReLU, loss and optimizer work are not counted.  MLP 784-128-10:
2*100,352*2 + 1,280*2*3 = 409,088 FLOPs per training sample (~4 x 101,770 parameters) and
203,264 per validation sample.

Usage: ``python benchmarks/sweep.py [--epochs 3] [--batch-sizes 64 256] [--device cpu|cuda]
[--threads N] [--json out.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from schedlab.lab import load_dataset
from schedlab.lab.config import Member, TrainConfig
from schedlab.lab.models import build_model
from schedlab.lab.trainer import BatchedTrainer
from schedlab.schedules.plateau import policy_from_spec

SCHEDULES = (
    "constant(0.05)",
    "step(lr=0.1, step_size=2, gamma=0.5)",
    "cosine(lr=0.1, steps={epochs})",
    "one_cycle(max_lr=0.2, steps={epochs})",
    "warmup(cosine(lr=0.1, steps={epochs}), steps=1)",
)
SEEDS = (0, 1, 2)


def linear_flops(layers: list[tuple[int, int]]) -> tuple[int, int]:
    """(training, evaluation) FLOPs per sample of a stack of Linear(in, out) layers."""
    forward = sum(2 * i * o for i, o in layers)
    input_grads = sum(2 * i * o for i, o in layers[1:])
    return 2 * forward + input_grads, forward


def matmul_rate(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of a float32 (n x n) @ (n x n) matmul on ``device``."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:  # Linux: writing 5 resets the VmHWM high-water mark of this process
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_batched(config: TrainConfig, ds, members, device) -> tuple[float, np.ndarray]:
    _sync(device)
    start = time.perf_counter()
    trainer = BatchedTrainer(config, ds, members, device=device.type)
    records = trainer.run()
    _sync(device)
    return time.perf_counter() - start, np.array([r.val_loss for r in records[-1]])


def run_sequential(config: TrainConfig, ds, members, device) -> tuple[float, np.ndarray]:
    """The usual PyTorch way: one model after another, each with its DataLoader."""
    x_val = torch.from_numpy(ds.x_val).to(device)
    y_val = torch.from_numpy(ds.y_val).to(device)
    data = TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train))
    losses = []
    _sync(device)
    start = time.perf_counter()
    for member in members:
        schedule = policy_from_spec(member.schedule)
        torch.manual_seed(member.seed)
        model = build_model(config.model, ds.input_shape, ds.num_classes).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=config.momentum)
        loader = DataLoader(
            data,
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(member.seed),
        )
        for epoch in range(config.epochs):
            for group in opt.param_groups:
                group["lr"] = schedule(epoch)
            model.train()
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                val_loss = F.cross_entropy(model(x_val), y_val).item()
        losses.append(val_loss)
    _sync(device)
    return time.perf_counter() - start, np.array(losses)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ds = load_dataset("mnist", train_size=args.train_size, val_fraction=0.2, seed=0)
    members = [Member(s.format(epochs=args.epochs), seed) for s in SCHEDULES for seed in SEEDS]
    train_flops, eval_flops = linear_flops([(784, 128), (128, 10)])
    epoch_flops = len(members) * (len(ds.x_train) * train_flops + len(ds.x_val) * eval_flops)
    peak = matmul_rate(device)
    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "device": device.type,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "members": len(members),
        "train_samples": len(ds.x_train),
        "val_samples": len(ds.x_val),
        "epochs": args.epochs,
        "matmul_gflops": peak / 1e9,
        "rows": [],
    }
    for batch in args.batch_sizes:
        config = TrainConfig(epochs=args.epochs, batch_size=batch, momentum=0.9)
        run_batched(dataclasses.replace(config, epochs=1), ds, members[:2], device)  # warm-up
        _reset_peak(device)
        t_batched, loss_batched = run_batched(config, ds, members, device)
        mem_batched = _peak_mib(device)
        row = {
            "batch_size": batch,
            "batched_s_per_epoch": t_batched / args.epochs,
            "batched_gflops": epoch_flops * args.epochs / t_batched / 1e9,
            "matmul_fraction": epoch_flops * args.epochs / t_batched / peak,
            "batched_peak_mib": mem_batched,
        }
        if not args.skip_sequential:
            _reset_peak(device)
            t_seq, loss_seq = run_sequential(config, ds, members, device)
            row |= {
                "sequential_s_per_epoch": t_seq / args.epochs,
                "speedup": t_seq / t_batched,
                "sequential_peak_mib": _peak_mib(device),
                "max_rel_diff_val_loss": float(np.max(np.abs(loss_batched / loss_seq - 1))),
            }
        result["rows"].append(row)
        print(json.dumps(row), file=sys.stderr)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def markdown(result: dict) -> str:
    """The results as a markdown section."""
    lines = [
        f"### Batched sweep benchmark ({result['date']})",
        "",
        f"Machine: {result['machine']} ({result['device']}), torch {result['torch']}, "
        f"{result['threads']} threads, load average {result['load_average']}. "
        f"{result['members']} members (5 schedules x 3 seeds), MLP 784-128-10, SGD momentum 0.9, "
        f"{result['train_samples']} train / {result['val_samples']} val MNIST samples, "
        f"{result['epochs']} epochs. Measured matmul rate: {result['matmul_gflops']:.1f} GFLOP/s.",
        "",
        "| batch | batched s/epoch | sequential s/epoch | speedup | batched GFLOP/s | "
        "of matmul rate | peak MiB batched / sequential | val-loss rel. diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        seq = "sequential_s_per_epoch" in r
        cells = [
            f"{r['batch_size']}",
            f"{r['batched_s_per_epoch']:.3f}",
            f"{r['sequential_s_per_epoch']:.3f}" if seq else "-",
            f"{r['speedup']:.1f}x" if seq else "-",
            f"{r['batched_gflops']:.1f}",
            f"{r['matmul_fraction']:.0%}",
            f"{r['batched_peak_mib']:.0f} / " + (f"{r['sequential_peak_mib']:.0f}" if seq else "-"),
            f"{r['max_rel_diff_val_loss']:.1e}" if seq else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
