"""Benchmark: one batched trainer vs 15 sequential PyTorch training loops, same run, same machine.

The sweep: 5 schedules x 3 seeds, MLP 784-128-10, SGD (momentum 0.9), 10,000 MNIST samples
(8,000 train / 2,000 validation, ``TrainConfig`` defaults), evaluated on the validation split after
every epoch, at batch sizes 64 and 256.

- batched: ``BatchedTrainer`` with the 15 members as one stacked model, ordered seed by seed as
  sweeps order them (the 5 members of a seed share each minibatch: one gather and one first-layer
  matmul per seed), and again in schedule order (every member gathers its own minibatch: the
  trainer's cost when no two members share a seed);
- sequential: the usual loop, one model after another: ``torch.manual_seed(seed)``, the ``torch.nn``
  model, ``torch.optim.SGD``, a shuffling ``DataLoader``, the rate set per epoch, a validation pass.

Both see the same data orders and initialisations, so their final validation losses must agree
(printed as a check, for both batched orders; float32 rounding differences grow over many high-rate
momentum steps).  The machine's matmul rate is measured in the same run, right before each batched
run (the best of 5 ``torch.matmul`` of two float32 2048 x 2048 matrices after a warm-up, 2 N^3 FLOPs
each), and the batched trainer's achieved FLOP rate is reported as a fraction of it (the JSON also
gives it against the median of the 5 calls).  On a CPU shared with other jobs wall time depends on
the neighbours, so rates and speedups are also given per CPU second of this process
(``time.process_time``; with one torch thread that is the time the work really had the core).

FLOP count (per sample and per model): each Linear(in, out) costs 2*in*out forward and 2*in*out
for its weight gradient, plus 2*in*out for its input gradient except the first layer (the input
needs no gradient); bias, ReLU, loss and optimizer work are not counted.  MLP 784-128-10:
2*100,352*2 + 1,280*2*3 = 409,088 FLOPs per training sample (~4 x 101,770 parameters) and
203,264 per validation sample.

Usage: ``python benchmarks/sweep.py [--epochs 3] [--batch-sizes 64 256] [--device cpu|cuda]
[--threads N] [--repeats N] [--json out.json]``.  With ``--repeats N`` the methods run back to back N
times (matmul rate, batched, unshared, sequential; then again): the speedups and fractions are the
medians of the N per-repeat ratios, each taken between runs a few seconds apart, so a machine whose
speed drifts (shared cores) skews both sides of a ratio alike; the smallest per-repeat ratios are
reported too.
"""

from __future__ import annotations

import argparse
import contextlib
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
from schedlab.lab.train.config import Member, TrainConfig
from schedlab.lab.train.models import build_model
from schedlab.lab.train.trainer import BatchedTrainer
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


def matmul_rate(
    device: torch.device, n: int = 2048, repeats: int = 5
) -> tuple[float, float, float]:
    """FLOP/s of a float32 (n x n) @ (n x n) matmul on ``device`` over ``repeats`` timed calls after
    a warm-up: (best per wall second, best per CPU second of this process (meaningful on CPU only),
    median per wall second).  The best is the machine's rate the fractions are taken against; the
    median shows how far a typical call falls below it on a shared machine."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    timed(device, torch.matmul, a, b)
    walls, cpus = [], []
    for _ in range(repeats):
        _, wall, cpu = timed(device, torch.matmul, a, b)
        walls.append(wall)
        cpus.append(cpu)
    flops = 2 * n**3
    return flops / min(walls), flops / max(min(cpus), 1e-9), flops / float(np.median(walls))


def timed(device: torch.device, fn, *args):
    """``(fn(*args), wall seconds, CPU seconds of this process)``."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    _sync(device)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:  # Linux: writing 5 resets the VmHWM high-water mark of this process
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")


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


def run_batched(config: TrainConfig, ds, members, device) -> np.ndarray:
    """Final validation losses of the members trained by one :class:`BatchedTrainer`."""
    records = BatchedTrainer(config, ds, members, device=device.type).run()
    return np.array([r.val_loss for r in records[-1]])


def run_sequential(config: TrainConfig, ds, members, device) -> np.ndarray:
    """The usual PyTorch way: one model after another, each with its DataLoader."""
    x_val = torch.from_numpy(ds.x_val).to(device)
    y_val = torch.from_numpy(ds.y_val).to(device)
    data = TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train))
    losses = []
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
    return np.array(losses)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument(
        "--skip-unshared", action="store_true", help="skip the schedule-ordered batched run"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="timed rounds of all methods; medians of per-round ratios",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ds = load_dataset("mnist", train_size=args.train_size, val_fraction=0.2, seed=0)
    members = [Member(s.format(epochs=args.epochs), seed) for seed in SEEDS for s in SCHEDULES]
    # the same members schedule by schedule: no two neighbours share a seed
    unshared_index = [
        i * len(SCHEDULES) + j for j in range(len(SCHEDULES)) for i in range(len(SEEDS))
    ]
    unshared = [members[i] for i in unshared_index]
    train_flops, eval_flops = linear_flops([(784, 128), (128, 10)])
    epoch_flops = len(members) * (len(ds.x_train) * train_flops + len(ds.x_val) * eval_flops)
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
        "load_average": [round(v, 2) for v in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "members": len(members),
        "train_samples": len(ds.x_train),
        "val_samples": len(ds.x_val),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "flops_per_epoch": epoch_flops,
        "rows": [],
    }
    total = epoch_flops * args.epochs
    for batch in args.batch_sizes:
        config = TrainConfig(epochs=args.epochs, batch_size=batch, momentum=0.9)
        run_batched(dataclasses.replace(config, epochs=1), ds, members[:2], device)  # warm-up
        reps = []  # one dict per repeat: the methods timed back to back
        for _ in range(args.repeats):
            rep: dict = {}
            # right before its run
            rep["peak_wall"], rep["peak_cpu"], rep["matmul_median"] = matmul_rate(device)
            _reset_peak(device)
            rep["loss"], rep["wall"], rep["cpu"] = timed(
                device, run_batched, config, ds, members, device
            )
            rep["peak_mib"] = _peak_mib(device)
            if not args.skip_unshared:
                loss_u, rep["wall_u"], _ = timed(device, run_batched, config, ds, unshared, device)
                rep["loss_u"] = np.empty_like(loss_u)
                rep["loss_u"][unshared_index] = loss_u  # back in ``members`` order
            if not args.skip_sequential:
                _reset_peak(device)
                rep["loss_seq"], rep["wall_seq"], rep["cpu_seq"] = timed(
                    device, run_sequential, config, ds, members, device
                )
                rep["seq_peak_mib"] = _peak_mib(device)
            reps.append(rep)

        def median(fn, reps=reps):
            """The median over the repeats of ``fn(repeat)`` (a key: that entry)."""
            return float(np.median([r[fn] if isinstance(fn, str) else fn(r) for r in reps]))

        fraction = median(lambda rep: total / rep["wall"] / rep["peak_wall"])
        row = {
            "batch_size": batch,
            "matmul_gflops": median("peak_wall") / 1e9,
            "batched_s_per_epoch": median("wall") / args.epochs,
            "batched_gflops": total / median("wall") / 1e9,
            "matmul_fraction": fraction,
            "matmul_fraction_min": min(total / r["wall"] / r["peak_wall"] for r in reps),
            # against the median 2048² call instead of the best one (diagnostic only)
            "matmul_fraction_of_median_rate": median(
                lambda rep: total / rep["wall"] / rep["matmul_median"]
            ),
            "batched_peak_mib": max(r["peak_mib"] for r in reps),
        }
        if device.type == "cpu":
            row |= {
                "batched_cpu_s": median("cpu"),
                "matmul_fraction_cpu_time": median(
                    lambda rep: total / max(rep["cpu"], 1e-9) / rep["peak_cpu"]
                ),
            }
        if not args.skip_unshared:
            row |= {
                "unshared_s_per_epoch": median("wall_u") / args.epochs,
                "unshared_matmul_fraction": median(
                    lambda rep: total / rep["wall_u"] / rep["peak_wall"]
                ),
            }
        if not args.skip_sequential:
            rel = np.concatenate(
                [
                    np.abs(r[key] / r["loss_seq"] - 1)
                    for r in reps
                    for key in ("loss", "loss_u")
                    if key in r
                ]
            )
            row |= {
                "sequential_s_per_epoch": median("wall_seq") / args.epochs,
                "speedup": median(lambda rep: rep["wall_seq"] / rep["wall"]),
                "speedup_min": min(r["wall_seq"] / r["wall"] for r in reps),
                "sequential_peak_mib": max(r["seq_peak_mib"] for r in reps),
                "val_loss_rel_diff_median": float(np.median(rel)),
                "val_loss_rel_diff_max": float(np.max(rel)),
            }
            if device.type == "cpu":
                row |= {
                    "sequential_cpu_s": median("cpu_seq"),
                    "speedup_cpu_time": median(lambda rep: rep["cpu_seq"] / max(rep["cpu"], 1e-9)),
                }
        row["rounds"] = [  # the raw timings of every round (seconds for all epochs, FLOP/s)
            {k: v for k, v in r.items() if not isinstance(v, np.ndarray)} for r in reps
        ]
        result["rows"].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), file=sys.stderr)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def markdown(result: dict) -> str:
    """The results as a markdown section."""
    cpu = result["device"] == "cpu"
    lines = [
        f"### Batched sweep benchmark ({result['date']})",
        "",
        f"Machine: {result['machine']} ({result['device']}), torch {result['torch']}, "
        f"{result['threads']} torch threads, load average {result['load_average']}. "
        f"{result['members']} members (5 schedules x 3 seeds), MLP 784-128-10, SGD momentum 0.9, "
        f"{result['train_samples']} train / {result['val_samples']} val MNIST samples, "
        f"{result['epochs']} epochs, {result['flops_per_epoch'] / 1e9:.1f} GFLOP per epoch, "
        f"{result.get('repeats', 1)} round(s) of all methods; ratios are medians of per-round ratios.",
        "",
        "| batch | batched s/epoch | sequential s/epoch | speedup (wall) | speedup (CPU time) | "
        "matmul GFLOP/s | batched GFLOP/s | of matmul rate (wall) | of matmul rate (CPU time) | "
        "unshared s/epoch (of matmul rate) | "
        "peak MiB batched / sequential | val-loss rel. diff median / max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(row: dict, key: str, spec: str, suffix: str = "") -> str:
        return f"{row[key]:{spec}}{suffix}" if key in row else "-"

    for r in result["rows"]:
        cells = [
            str(r["batch_size"]),
            fmt(r, "batched_s_per_epoch", ".3f"),
            fmt(r, "sequential_s_per_epoch", ".3f"),
            fmt(r, "speedup", ".2f", "x") + f" (min {fmt(r, 'speedup_min', '.2f', 'x')})",
            fmt(r, "speedup_cpu_time", ".1f", "x") if cpu else "-",
            fmt(r, "matmul_gflops", ".1f"),
            fmt(r, "batched_gflops", ".1f"),
            fmt(r, "matmul_fraction", ".1%") + f" (min {fmt(r, 'matmul_fraction_min', '.1%')})",
            fmt(r, "matmul_fraction_cpu_time", ".0%") if cpu else "-",
            fmt(r, "unshared_s_per_epoch", ".3f")
            + f" ({fmt(r, 'unshared_matmul_fraction', '.0%')})"
            if "unshared_s_per_epoch" in r
            else "-",
            fmt(r, "batched_peak_mib", ".0f") + " / " + fmt(r, "sequential_peak_mib", ".0f"),
            fmt(r, "val_loss_rel_diff_median", ".1e")
            + " / "
            + fmt(r, "val_loss_rel_diff_max", ".1e"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
