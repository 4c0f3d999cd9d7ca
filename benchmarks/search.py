"""Benchmark: the schedule search against the full grid it replaces, same task, same machine.

For each task (``mnist-mlp``: MLP 784-128-10 on MNIST; ``fashion-cnn``: the built-in CNN on
Fashion-MNIST), SGD with momentum 0.9, batch 64, schedules counted in optimizer steps:

- **grid**: every family of ``--contenders modern`` (constant, cosine to 10%, linear to zero, WSD
  with a 20% 1-sqrt cooldown, 5% warmup + cosine, schedule-free SGD) x ``--rates`` peak rates
  log-spaced over the range x 3 seeds, every run trained to the end (``run_comparison``, the
  ``schedlab compare`` path), ranked with the usual statistics;
- **search**: ``run_search`` over the same families and range (``--trials`` candidates per family
  from the QMC sampler, successive halving with ``eta=3`` over rungs of 1, 3 and 9 epochs, one
  seed per rung before the last, all 3 seeds at the full budget).

It prints both figures the issue asks for: whether the search's winner (mean final validation
accuracy over the 3 seeds) lies within the 95% interval of the grid's best cell, and the
member-epochs each spent (trained epochs; forks not counted), with their ratio (target <= 1/3).

Usage: ``python benchmarks/search.py [--task mnist-mlp|fashion-cnn|all] [--epochs 9]
[--mnist-train-size 10000] [--cnn-train-size 2000] [--rates 6] [--trials 9] [--threads 1]
[--store-dir runs/bench-search] [--json out.json]``.  Stores go under ``--store-dir`` (git-ignored);
rerunning resumes both the grid and the search from them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, markdown_table

from schedlab.lab.runs.store import RunStore
from schedlab.lab.searches.contenders import contenders
from schedlab.lab.searches.families import parse_families
from schedlab.lab.searches.search import run_search, steps_per_epoch
from schedlab.lab.sweeps.compare import run_comparison
from schedlab.lab.train.config import TrainConfig
from schedlab.lab.train.setup import load_data

RANGE = "loguniform(1e-3, 1)"
SEEDS = (0, 1, 2)
TASKS = {
    "mnist-mlp": {"dataset": "mnist", "model": "mlp"},
    "fashion-cnn": {"dataset": "fashion-mnist", "model": "cnn"},
}


def _config(task: str, epochs: int, train_size: int) -> TrainConfig:
    return TrainConfig(
        **TASKS[task], optimizer="sgd", momentum=0.9, epochs=epochs, batch_size=64,
        train_size=train_size, val_fraction=0.2, unit="step",
    )  # fmt: skip


def _trained(store: Path, sweeps: list[str], forks: int = 0) -> int:
    with RunStore(store) as st:
        ids = {r.id: r.epochs_done for s in sweeps for r in st.runs(s)}
    return sum(ids.values()) - forks


def run_task(task: str, args: argparse.Namespace) -> dict:
    size = args.mnist_train_size if task == "mnist-mlp" else args.cnn_train_size
    config = _config(task, args.epochs, size)
    data = load_data(config, args.data_root)
    spe = steps_per_epoch(config, data)
    units = config.epochs * spe
    families = parse_families(contenders("modern"), {"lr": RANGE}, [units])
    folder = Path(args.store_dir)
    folder.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    schedules = []
    for fam in families:
        (free,) = fam.free
        for value in free.range.grid(args.rates):
            schedules.append((f"{fam.label}@{value:.4g}", fam.spec({free.name: value}, units)))
    grid_store = folder / f"{task}-grid.sqlite"
    grid = run_comparison(config, schedules, SEEDS, store=grid_store, name="grid", data=data)
    grid_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = run_search(
        config, families, SEEDS, store=folder / f"{task}-search.sqlite", name="search",
        trials=args.trials, eta=3, min_epochs=1, rung_seeds=1, sampler="qmc",
        pruner="halving", data=data,
    )  # fmt: skip
    search_seconds = time.perf_counter() - t0

    best = grid.ranking.rows[0]
    win = result.ranking.rows[0]
    grid_epochs = _trained(grid_store, ["grid"])
    out = {
        "task": task, "config": config.to_dict(), "steps_per_epoch": spe,
        "families": [f.label for f in families], "rates": args.rates, "trials": args.trials,
        "grid": {
            "best": best.label, "schedule": best.schedule, "mean": best.final.mean,
            "low": best.final.low, "high": best.final.high, "member_epochs": grid_epochs,
            "seconds": grid_seconds,
            "family_best": {
                fam.label: max(
                    (r for r in grid.ranking.rows if r.label.startswith(fam.label + "@")),
                    key=lambda r: -math.inf if math.isnan(r.final.mean) else r.final.mean,
                ).label
                for fam in families
            },
        },
        "search": {
            "winner": win.label, "schedule": win.schedule, "mean": win.final.mean,
            "low": win.final.low, "high": win.final.high,
            "member_epochs": result.member_epochs, "seconds": search_seconds,
            "budgets": list(result.budgets),
            "family_best": {f.label: f.best_label for f in result.families},
            "ranking": [[r.label, r.final.mean, r.final.low, r.final.high] for r in result.ranking],
        },
    }  # fmt: skip
    out["within"] = bool(win.final.mean >= best.final.low)
    out["ratio"] = result.member_epochs / grid_epochs
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--mnist-train-size", type=int, default=10_000)
    parser.add_argument("--cnn-train-size", type=int, default=2_000)
    parser.add_argument("--rates", type=int, default=6)
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--store-dir", default="runs/bench-search")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tasks = list(TASKS) if args.task == "all" else [args.task]
    print(machine_line(["torch", "optuna", "schedulefree", "numpy"]), flush=True)
    results = []
    for task in tasks:
        res = run_task(task, args)
        results.append(res)
        g, s = res["grid"], res["search"]
        print(f"\n## {task}: {res['config']['train_size']} samples, {args.epochs} epochs "
              f"({res['steps_per_epoch']} steps each), rungs {s['budgets']}", flush=True)  # fmt: skip
        print(markdown_table(
            ["", "best schedule", "mean final val acc [95% CI]", "member-epochs", "wall s"],
            [
                [f"grid ({len(res['families'])} families x {args.rates} rates x 3 seeds)",
                 g["best"], f"{g['mean']:.4f} [{g['low']:.4f}, {g['high']:.4f}]",
                 g["member_epochs"], f"{g['seconds']:.0f}"],
                [f"search ({args.trials} candidates per family)", s["winner"],
                 f"{s['mean']:.4f} [{s['low']:.4f}, {s['high']:.4f}]", s["member_epochs"],
                 f"{s['seconds']:.0f}"],
            ],
        ))  # fmt: skip
        print(f"\nwithin the grid best's 95% interval: {res['within']}; member-epochs "
              f"{s['member_epochs']} / {g['member_epochs']} = {res['ratio']:.3f} (target <= 0.333)")  # fmt: skip
        print("per family, grid best cell vs search's tuned member:")
        for fam in res["families"]:
            print(f"  {fam}: grid {g['family_best'][fam]}, search {s['family_best'].get(fam)}")
        print("search ranking (finalists, 3 seeds):")
        for label, mean, low, high in s["ranking"]:
            print(f"  {label}: {mean:.4f} [{low:.4f}, {high:.4f}]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results


if __name__ == "__main__":
    main()
