"""Benchmark: the stacked engine against 12 sequential plain loops on a user's own model, same run.

The sweep: 4 schedules x 3 seeds of a user-style model with BatchNorm on Fashion-MNIST
(``--train-size`` samples from its training split, 20% of them held out for validation),
``torch.optim.SGD`` with momentum 0.9 and weight decay 5e-4 (``--optimizer adamw``:
``torch.optim.AdamW``), batch 64, evaluated on the validation split after every epoch.  Models
(``--model``):

- ``cnn`` (the target): :class:`UserCNN`, two Conv(bias=False)-BatchNorm-ReLU-MaxPool blocks of
  16 and 32 channels, then Linear 1568-64-10 (105,914 parameters);
- ``mlp``: :class:`UserMLP`, Linear 784-256, BatchNorm, ReLU, Linear 256-10 (203,786 parameters).

Methods (``--methods``), all training the same 12 runs:

- ``stacked``: the engine :func:`schedlab.lab.compare` picks for these models: the 12 runs as one
  model through ``torch.func.vmap``, each member with its own optimizer instance and
  ``ScheduleLR`` (:mod:`schedlab.lab.train.stacked`);
- ``sequential`` (the peer of the target): the plain loop the contract says a run equals, written
  the usual way, one run after another in this process: ``torch.manual_seed(seed); net =
  Model()``, the optimizer, ``ScheduleLR``, a shuffling ``DataLoader`` with the seed's generator, a
  validation pass per epoch;
- ``per-run``: the per-run engine with one worker process per CPU core (what
  ``engine="per-run"`` gives), its process start-up included.

The stacked and sequential runs train the same initialisations on the same data orders, so their
final validation losses agree to float32 rounding amplified by training (printed: the median
and largest relative difference).  On a CPU shared with other jobs wall time depends on the
neighbours, so each round times the methods back to back and a ratio is the median of the
per-round ratios; the ratio of this process's CPU seconds (``time.process_time``) is given too.

Memory (``--skip-memory`` to leave out): the 12 stacked runs, a single plain-loop run, and
nothing (imports and data only) each run in a fresh subprocess that loads the data, resets its
peak RSS (Linux VmHWM; loading the whole Fashion-MNIST file peaks higher than training these
models) and reports the peak of what follows.  The target compares the stacked peak with the sum
of the 12 runs' peaks (12 x one run's: each run alone in its own process holds torch and the data
too); the ratio of the increments over the base process (what training adds) is given too.

``--profile`` prints a ``torch.profiler`` table of one stacked epoch (by self CPU time).

Usage: ``python benchmarks/user_model.py [--model cnn|mlp] [--epochs 2] [--train-size 3000]
[--repeats 3] [--optimizer sgd|adamw] [--methods stacked sequential per-run] [--threads N]
[--profile] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, markdown_table

from schedlab.adapters.torch import ScheduleLR
from schedlab.lab import load_dataset
from schedlab.lab.train.config import Member
from schedlab.lab.train.engines import make_trainer
from schedlab.lab.train.loop import first_rate
from schedlab.lab.train.task import UserTask

SCHEDULES = (
    "constant(0.05)",
    "cosine(lr=0.1, steps={epochs})",
    "step(lr=0.1, step_size=1, gamma=0.5)",
    "warmup(cosine(lr=0.1, steps={epochs}), steps=1)",
)
SEEDS = (0, 1, 2)
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"momentum": 0.9, "weight_decay": 5e-4}),
    "adamw": (torch.optim.AdamW, {"weight_decay": 0.01}),
}
METHODS = ("stacked", "sequential", "per-run")
BATCH = 64


class UserCNN(nn.Module):
    """What a user writes for 28x28 grey images: two conv blocks with BatchNorm, two Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class UserMLP(nn.Module):
    """An MLP with BatchNorm on the flattened images."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Linear(256, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


MODELS = {"cnn": UserCNN, "mlp": UserMLP}


def load(train_size: int) -> tuple[tuple, tuple]:
    """``(train, val)`` Fashion-MNIST tensors, standardized, shape (N, 1, 28, 28)."""
    ds = load_dataset("fashion-mnist", train_size=train_size, val_fraction=0.2, seed=0)
    return (
        (torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)),
        (torch.from_numpy(ds.x_val), torch.from_numpy(ds.y_val)),
    )


def members(epochs: int) -> list[Member]:
    """The 12 runs, seed by seed (the order a sweep gives them)."""
    return [Member(s.format(epochs=epochs), seed) for seed in SEEDS for s in SCHEDULES]


def make_task(model: str, train, val, optimizer: str, epochs: int, engine: str) -> UserTask:
    return UserTask.build(
        MODELS[model], train, val, optimizer=OPTIMIZERS[optimizer], epochs=epochs,
        batch_size=BATCH, engine=engine,
    )  # fmt: skip


def run_engine(task: UserTask, runs: list[Member]) -> np.ndarray:
    """Final validation losses of the runs trained by ``task.engine``."""
    trainer = make_trainer(task, runs)
    try:
        assert trainer.engine.startswith(task.engine), trainer.engine
        for _ in range(task.epochs):
            records = trainer.run_epoch()
    finally:
        if hasattr(trainer, "close"):
            trainer.close()
    return np.array([r.val_loss for r in records])


def plain_loop(task: UserTask, member: Member) -> float:
    """One run as a user writes it alone; its final validation loss."""
    (x_train, y_train), (x_val, y_val) = (task.train.x, task.train.y), (task.val.x, task.val.y)
    torch.manual_seed(member.seed)
    net = task.model()
    opt = task.optimizer(net.parameters(), lr=first_rate(member.schedule), **task.optimizer_kwargs)
    loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=task.batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(member.seed),
    )  # fmt: skip
    sched = ScheduleLR(opt, member.schedule, interval="step", unit="epoch",
                       steps_per_epoch=len(loader))  # fmt: skip
    for _ in range(task.epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            sched.step()
        net.eval()
        total = 0.0
        with torch.no_grad():
            for lo in range(0, len(y_val), task.batch_size):
                xb, yb = x_val[lo : lo + task.batch_size], y_val[lo : lo + task.batch_size]
                total += float(F.cross_entropy(net(xb), yb)) * len(yb)
    return total / len(y_val)


def run_sequential(task: UserTask, runs: list[Member]) -> np.ndarray:
    return np.array([plain_loop(task, m) for m in runs])


def timed(fn, *args):
    """``(fn(*args), wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def reset_peak_rss() -> None:
    """Restart this process's peak RSS from its current RSS (Linux: ``5 > /proc/self/clear_refs``
    resets VmHWM), so that the peak of the training is not the peak of loading the data."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """This process's peak resident set size since :func:`reset_peak_rss` (VmHWM), or since it
    started where that cannot be reset (``ru_maxrss``, KiB on Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(kind: str, args: argparse.Namespace) -> dict:
    """Train one method alone in this process (``stacked``: the 12 runs; ``one``: one plain
    run; ``base``: nothing) and report the peak RSS."""
    train, val = load(args.train_size)
    task = make_task(args.model, train, val, args.optimizer, args.epochs, "stacked")
    runs = members(args.epochs)
    gc.collect()
    reset_peak_rss()
    if kind == "stacked":
        run_engine(task, runs)
    elif kind == "one":
        plain_loop(task, runs[0])
    return {"probe": kind, "peak_rss_mib": peak_rss_mib()}


def probe_in_subprocess(kind: str, args: argparse.Namespace) -> float:
    cmd = [sys.executable, __file__, "--probe", kind, "--model", args.model, "--epochs",
           str(args.epochs), "--train-size", str(args.train_size), "--optimizer",
           args.optimizer]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def profile_stacked(task: UserTask, runs: list[Member], top: int = 25) -> str:
    """``torch.profiler`` table of one stacked epoch, by self CPU time, with input shapes."""
    from torch.profiler import ProfilerActivity, profile

    trainer = make_trainer(dataclasses.replace(task, epochs=1), runs)
    trainer.run_epoch()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        trainer.run_epoch()
    averages = prof.key_averages(group_by_input_shape=True)
    return averages.table(sort_by="self_cpu_time_total", row_limit=top,
                          max_name_column_width=40, max_shapes_column_width=70)  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="cnn")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of all methods")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table")
    parser.add_argument("--probe", choices=["stacked", "one", "base"], help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probe:
        out = probe(args.probe, args)
        print(json.dumps(out))
        return out
    if "stacked" not in args.methods or "sequential" not in args.methods:
        parser.error("--methods must include stacked and sequential (the ratio's two sides)")
    train, val = load(args.train_size)
    stacked_task = make_task(args.model, train, val, args.optimizer, args.epochs, "stacked")
    runs = members(args.epochs)
    run_engine(dataclasses.replace(stacked_task, epochs=1), runs[:2])  # warm-up
    rounds = []
    for _ in range(args.repeats):
        rnd: dict = {}
        stacked, rnd["stacked_s"], rnd["stacked_cpu_s"] = timed(run_engine, stacked_task, runs)
        seq, rnd["sequential_s"], rnd["sequential_cpu_s"] = timed(
            run_sequential, stacked_task, runs
        )
        if "per-run" in args.methods:
            task = dataclasses.replace(stacked_task, engine="per-run", workers=os.cpu_count())
            per_run, rnd["per_run_s"], _ = timed(run_engine, task, runs)
            rnd["per_run_rel_diff_max"] = float(np.max(np.abs(per_run / seq - 1)))
        rel = np.abs(stacked / seq - 1)
        rnd["rel_diff_median"], rnd["rel_diff_max"] = float(np.median(rel)), float(rel.max())
        rounds.append(rnd)
        print(json.dumps(rnd), file=sys.stderr)

    def median(fn) -> float:
        return float(np.median([fn(r) for r in rounds]))

    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_line(["torch"]),
        "threads": torch.get_num_threads(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "model": args.model,
        "parameters": sum(p.numel() for p in MODELS[args.model]().parameters()),
        "runs": len(runs),
        "optimizer": args.optimizer,
        "train_samples": len(train[1]),
        "val_samples": len(val[1]),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "stacked_s_per_epoch": median(lambda r: r["stacked_s"]) / args.epochs,
        "sequential_s_per_epoch": median(lambda r: r["sequential_s"]) / args.epochs,
        "speedup": median(lambda r: r["sequential_s"] / r["stacked_s"]),
        "speedup_min": min(r["sequential_s"] / r["stacked_s"] for r in rounds),
        "speedup_cpu_time": median(lambda r: r["sequential_cpu_s"] / r["stacked_cpu_s"]),
        "rel_diff_median": median(lambda r: r["rel_diff_median"]),
        "rel_diff_max": max(r["rel_diff_max"] for r in rounds),
        "rounds": rounds,
    }
    if "per-run" in args.methods:
        result |= {
            "per_run_workers": os.cpu_count(),
            "per_run_s_per_epoch": median(lambda r: r["per_run_s"]) / args.epochs,
            "per_run_speedup": median(lambda r: r["sequential_s"] / r["per_run_s"]),
            "per_run_rel_diff_max": max(r["per_run_rel_diff_max"] for r in rounds),
        }
    if not args.skip_memory:
        base, one, stacked_rss = (probe_in_subprocess(k, args) for k in ("base", "one", "stacked"))
        result |= {
            "base_rss_mib": base,
            "one_run_rss_mib": one,
            "stacked_rss_mib": stacked_rss,
            "rss_ratio": stacked_rss / (len(runs) * one),
            "rss_increment_ratio": (stacked_rss - base) / max(len(runs) * (one - base), 1e-9),
        }
    print(markdown(result))
    if args.profile:
        print(profile_stacked(stacked_task, runs))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def markdown(r: dict) -> str:
    """The results as a markdown section."""
    per_run = "per_run_s_per_epoch" in r
    header = ["model, runs", "stacked s/epoch", "sequential s/epoch", "stacked speedup (wall)",
              "stacked speedup (CPU time)"]  # fmt: skip
    row = [
        f"{r['model']} ({r['parameters']:,} parameters), {r['runs']} runs, {r['optimizer']}",
        f"{r['stacked_s_per_epoch']:.2f}",
        f"{r['sequential_s_per_epoch']:.2f}",
        f"{r['speedup']:.2f}x (min {r['speedup_min']:.2f}x)",
        f"{r['speedup_cpu_time']:.2f}x",
    ]
    if per_run:
        header += [f"per-run, {r['per_run_workers']} workers: s/epoch (speedup)"]
        row += [f"{r['per_run_s_per_epoch']:.2f} ({r['per_run_speedup']:.2f}x)"]
    header += ["final val-loss rel. diff, median / max"]
    row += [f"{r['rel_diff_median']:.1e} / {r['rel_diff_max']:.1e}"]
    lines = [
        f"### Stacked engine vs sequential plain loops ({r['date']})",
        "",
        f"{r['machine']}; {r['threads']} torch threads; load average {r['load_average']}. "
        f"{r['train_samples']} train / {r['val_samples']} val Fashion-MNIST samples, batch "
        f"{BATCH}, {r['epochs']} epochs, {r['repeats']} round(s); ratios are medians of "
        "per-round ratios.",
        "",
        markdown_table(header, [row]),
    ]
    if "stacked_rss_mib" in r:
        lines += [
            "",
            f"Peak RSS: stacked ({r['runs']} runs) {r['stacked_rss_mib']:.0f} MiB; one plain run "
            f"{r['one_run_rss_mib']:.0f} MiB (x{r['runs']} = "
            f"{r['runs'] * r['one_run_rss_mib']:.0f} MiB); imports and data only "
            f"{r['base_rss_mib']:.0f} MiB. Stacked / sum of the runs': {r['rss_ratio']:.2f}x "
            f"(target <= 1.5x); of the increments over the base process: "
            f"{r['rss_increment_ratio']:.2f}x.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
