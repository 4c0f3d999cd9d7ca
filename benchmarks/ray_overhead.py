"""Benchmark: the same small sweep on the local backend and on Ray with 2 workers, same machine.

The sweep: 4 schedules x 2 seeds (8 runs), MLP 784-128-10, SGD, ``--train-size`` MNIST samples
(80 % train), ``--epochs`` epochs, every epoch committed to a fresh SQLite store (checkpoints
included), as ``schedlab compare`` does.

- local: one batched group of 8 runs in this process, torch using ``--workers`` threads;
- ray cold: ``ray.init`` (a private local cluster, ``--workers`` CPUs) + the sweep;
- ray warm: the sweep on the already started cluster: 2 groups of 4 runs, one task per worker
  (1 thread each), epochs streamed back and committed by the driver.

Ray's overhead for this sweep is ``ray warm - best local`` (both use all the cores).  "On paper" for a
larger sweep of ``R`` runs x ``E`` epochs on ``W`` workers: ``T(W) ~ init + fixed + R*E*w/W``, where
``w`` is the measured cost of one member-epoch on one thread and ``fixed`` the measured per-sweep
cost of Ray (task start, dataset transfer, per-epoch streaming); the driver's commit (one SQLite
transaction per group-epoch, checkpoint bytes included) is measured separately as it stays serial.

Usage: ``python benchmarks/ray_overhead.py [--epochs 3] [--train-size 4000] [--workers 2]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import machine_line, markdown_table

from schedlab.lab.runs.store import RunStore
from schedlab.lab.sweeps import make_plan, run_sweep
from schedlab.lab.sweeps.backends.ray import RayBackend
from schedlab.lab.train.config import TrainConfig

SCHEDULES = ("constant(0.05)", "step(0.1, 1, gamma=0.5)", "cosine(lr=0.1, steps=3)",
             "warmup(cosine(0.1, 3), 1)")  # fmt: skip


def _sweep(
    config: TrainConfig, backend: RayBackend | None, group_size: int, repeats: int = 1
) -> tuple[float, RunStore]:
    """Median wall time of the whole sweep (dataset loading included) into a fresh store."""
    times = []
    for _ in range(repeats):
        store = RunStore(Path(tempfile.mkdtemp(prefix="ray-bench-")) / "runs.sqlite")
        plan = make_plan(config, SCHEDULES, [0, 1], name="bench")
        start = time.perf_counter()
        run_sweep(store, plan, group_size=group_size, backend=backend)
        times.append(time.perf_counter() - start)
    return statistics.median(times), store


def _commit_seconds(store: RunStore) -> tuple[float, int]:
    """Mean seconds of one group-epoch commit (re-measured on a copy) and a checkpoint's bytes."""
    from schedlab.lab.runs.store import EpochResult
    from schedlab.lab.runs.tracking import stored_epochs

    runs = store.runs("bench")
    blob = store.checkpoint(runs[0]["id"])[1]
    with RunStore(Path(tempfile.mkdtemp()) / "c.sqlite") as copy:
        plan = make_plan(TrainConfig.from_dict(runs[0]["config"]), SCHEDULES, [0, 1], name="c")
        copy.ensure_sweep("c", plan.to_dict())
        ids = copy.ensure_runs("c", runs[0].config, runs[0].config_hash, plan.runs())
        copy.start_runs(ids, restart=True)
        records = [stored_epochs(store, r["id"]) for r in runs]
        epochs = len(records[0])
        start = time.perf_counter()
        for e in range(epochs):
            copy.commit_epoch([
                EpochResult(i, rec[e], blob, False) for i, rec in zip(ids, records, strict=True)
            ])  # fmt: skip
        return (time.perf_counter() - start) / epochs, len(blob)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many sweeps")
    args = parser.parse_args()
    import ray

    config = TrainConfig(dataset=args.dataset, epochs=args.epochs, train_size=args.train_size)
    runs = len(SCHEDULES) * 2
    _sweep(config, None, runs)  # warm-up: file cache, imports
    torch.set_num_threads(1)
    one_thread, _ = _sweep(config, None, runs, args.repeats)
    torch.set_num_threads(args.workers)
    local, store = _sweep(config, None, runs, args.repeats)
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    init = time.perf_counter() - start
    try:
        backend = RayBackend(workers=args.workers)
        cold, _ = _sweep(config, backend, runs)
        warm, _ = _sweep(config, backend, runs, args.repeats)
    finally:
        ray.shutdown()
    commit, blob = _commit_seconds(store)
    w = one_thread / (runs * args.epochs)  # an upper bound: includes loading the dataset
    fixed = max(0.0, warm - runs * args.epochs * w / args.workers)
    print(machine_line(["torch", "ray"]))
    print(f"\nsweep: {runs} runs x {args.epochs} epochs, {args.dataset} train_size={args.train_size}, "
          f"{args.workers} workers; median of {args.repeats} (first Ray sweep: once)\n")  # fmt: skip
    rows = [
        ["local, 1 group of 8, 1 thread", f"{one_thread:.2f} s", "1.00x"],
        [
            f"local, 1 group of 8, {args.workers} threads",
            f"{local:.2f} s",
            f"{local / one_thread:.2f}x",
        ],
        ["ray.init (local cluster)", f"{init:.2f} s", ""],
        [f"ray, {args.workers} workers, first sweep", f"{cold:.2f} s", f"{cold / one_thread:.2f}x"],
        [f"ray, {args.workers} workers, warm", f"{warm:.2f} s", f"{warm / one_thread:.2f}x"],
    ]
    print(markdown_table(["backend", "wall time", "vs local 1 thread"], rows))
    best = min(one_thread, local)  # torch threads can lose on a small shared machine
    print(f"\nRay overhead for this sweep (warm - best local): {warm - best:+.2f} s; cold (init + "
          f"first sweep - best local): {init + cold - best:+.2f} s")  # fmt: skip
    print(f"one member-epoch on 1 thread: w = {w * 1e3:.1f} ms; Ray fixed cost: {fixed:.2f} s; "
          f"driver commit per group-epoch of {runs}: {commit * 1e3:.1f} ms "
          f"(checkpoint {blob / 1e6:.2f} MB per run)\n")  # fmt: skip
    big_runs, big_epochs = 64, 20
    work = big_runs * big_epochs * w
    table = []
    for workers in (1, 2, 8, 32):
        t = (init if workers > 1 else 0) + (fixed if workers > 1 else 0) + work / workers
        table.append([str(workers), f"{t:.0f} s", f"{work / t:.1f}x"])
    print(f"on paper, {big_runs} runs x {big_epochs} epochs (same model and data), "
          f"T(W) = init + fixed + R*E*w/W:\n")  # fmt: skip
    print(markdown_table(["workers", "time", "speed-up"], table))
    print(
        f"\n(driver commits stay serial: {big_runs * big_epochs * commit / runs:.0f} s of "
        "SQLite writes in all, overlapped with training)"
    )


if __name__ == "__main__":
    main()
