"""Print and plot a few schedules (placeholder main job until the lab lands)."""

from __future__ import annotations

import numpy as np

import schedlab

SPECS = [
    "constant(0.1)",
    "step(0.1, step_size=30, gamma=0.5)",
    "warmup(cosine(lr=0.1, steps=90), steps=10)",
    "one_cycle(max_lr=0.1, steps=100)",
    "cosine_restarts(0.1, period=20, t_mult=2)",
    "wsd(lr=0.1, steps=100, decay_steps=20, warmup_steps=5)",
]


def main() -> None:
    t = np.arange(100)
    for text in SPECS:
        s = schedlab.from_spec(text)
        values = s(t)
        print(f"{s!r}\n   t=0: {values[0]:.4g}  t=50: {values[50]:.4g}  t=99: {values[99]:.4g}")


if __name__ == "__main__":
    main()
