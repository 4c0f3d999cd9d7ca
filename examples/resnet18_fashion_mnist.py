"""Which schedule for a ResNet-18 trained from scratch on Fashion-MNIST? ``schedlab.lab.compare``.

    python examples/resnet18_fashion_mnist.py          # PYTHONPATH=src from a checkout

Run time: 3 min 52 s wall on 2 CPU cores (AMD EPYC VM, 2026-12-02), niced, while other
jobs kept the load average near 6 (so an idle machine takes less); 95 s of CPU time.
``SCHEDLAB_EXAMPLE_SMOKE=1`` shrinks it to seconds (tests/examples runs it so).

The model is ResNet-18 with random weights (nothing is downloaded) and a 1-channel stem for the
grey 28x28 images: ``torchvision.models.resnet18(num_classes=10)`` when torchvision imports;
otherwise -- torchvision missing, or built for another torch ("operator torchvision::nms does not
exist") -- the same architecture from Hugging Face ``transformers`` (``ResNetConfig(layer_type=
"basic", depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512])``, random init), wrapped so that
its forward pass returns the logits tensor, as ``compare`` needs.  Both have 11,175,370
parameters; the run identity holds the model's class, so the two never mix in one store.

The data: 1,500 images drawn from Fashion-MNIST's training split (20% held out for validation),
standardized, as ``(x, y)`` arrays (``schedlab.lab.load_dataset`` finds the IDX files, see
docs/datasets.md).  Three schedules with the same peak rate, two seeds each, SGD with momentum,
2 epochs: a demonstration of the call, far too short to rank schedules for ResNet-18 (raise
``TRAIN_SIZE``, ``EPOCHS`` and ``SEEDS`` for that).  The ranking is by final validation accuracy;
the report goes to ``out/resnet18-fashion/``.  Rerun it and finished runs are skipped; interrupt
it and it resumes.  The store keeps each run's latest checkpoint (weights and momentum: about
90 MB per ResNet-18 run).

Engine: on a CPU this script asks for the per-run engine (the plain loop, one worker process per
core).  For a conv net on a CPU the stacked engine's grouped convolutions and batched BatchNorm
cost more than stacking saves: 6 one-epoch runs of this ResNet-18 on 800 images took 759 s
stacked and 492 s per-run (2 workers) on the 2 shared cores (BENCHMARKS.md).  On a GPU it leaves
the choice to ``engine="auto"`` (the stacked engine; not measured: no GPU was lent).
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from schedlab.lab import compare, load_dataset

SMOKE = os.environ.get("SCHEDLAB_EXAMPLE_SMOKE") == "1"
TRAIN_SIZE = 80 if SMOKE else 1500  # drawn from the training split; 20% become validation
EPOCHS = 1 if SMOKE else 2
SEEDS = 1 if SMOKE else 2
BATCH = 64


def _torchvision():
    """The torchvision module, or ``None`` where it does not import beside this torch."""
    try:
        import torchvision
    except Exception:  # ImportError, or RuntimeError: operator torchvision::nms does not exist
        return None
    return torchvision


class HFResNet18(nn.Module):
    """ResNet-18 from Hugging Face ``transformers`` (random init), returning logits."""

    def __init__(self, num_classes: int = 10, channels: int = 1) -> None:
        super().__init__()
        from transformers import ResNetConfig, ResNetForImageClassification

        config = ResNetConfig(
            layer_type="basic", depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512],
            num_labels=num_classes, num_channels=channels,
        )  # fmt: skip
        self.net = ResNetForImageClassification(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values=x).logits  # compare needs one tensor, not a ModelOutput


def resnet18() -> nn.Module:
    """A new ResNet-18 for 1-channel images and 10 classes (called after torch.manual_seed)."""
    tv = _torchvision()
    if tv is None:
        return HFResNet18()
    net = tv.models.resnet18(num_classes=10)  # weights=None: random init
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


def main() -> None:
    ds = load_dataset("fashion-mnist", train_size=TRAIN_SIZE, val_fraction=0.2, seed=0)
    train, val = (ds.x_train, ds.y_train), (ds.x_val, ds.y_val)
    steps = EPOCHS * math.ceil(len(ds.y_train) / BATCH)  # unit="step": t counts optimizer steps
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = compare(
        model=resnet18,
        train=train,
        val=val,
        loss="cross_entropy",
        optimizer=(torch.optim.SGD, {"momentum": 0.9, "weight_decay": 5e-4}),
        schedules={
            "constant": "constant(0.02)",
            "cosine": f"cosine(lr=0.02, steps={steps})",
            "one_cycle": f"one_cycle(max_lr=0.02, steps={steps})",
        },
        seeds=SEEDS,
        epochs=EPOCHS,
        batch_size=BATCH,
        unit="step",
        store="runs/resnet18-fashion.sqlite",
        name="resnet18-fashion-smoke" if SMOKE else "resnet18-fashion",
        device=device,
        engine="auto" if device == "cuda" else "per-run",
    )
    print(f"model: {'torchvision' if _torchvision() else 'transformers'} ResNet-18")
    print(f"engine: {result.engine}")
    for i, row in enumerate(result.ranking, 1):
        print(f"{i}. {row.label:10s} final {result.ranking.metric} {row.final.mean:.4f}")
    print(f"report: {result.report('out/resnet18-fashion')}")


if __name__ == "__main__":
    main()
