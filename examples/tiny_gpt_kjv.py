"""Warmup + cosine, WSD or linear decay for a tiny GPT language model? ``schedlab.lab.compare``.

    python examples/tiny_gpt_kjv.py          # PYTHONPATH=src from a checkout

Run time: 6 min 53 s wall on 2 CPU cores (AMD EPYC VM, 2026-12-02), niced, while other
jobs kept the load average near 6 (so an idle machine takes less); 164 s of CPU time.
``SCHEDLAB_EXAMPLE_SMOKE=1`` shrinks it to seconds (tests/examples runs it so).

The corpus is the King James Version of the Bible (1611, public domain), 4.4 MB of English text,
as Debian and Ubuntu package it: ``bible-kjv-text`` holds the compressed text
(``/usr/lib/bible.data``) and ``bible-kjv`` the ``bible`` program that reads it (``bible -f
Gen1:1-Rev22:21`` writes every verse, one per line, after its reference).  Install both with
``apt-get install bible-kjv bible-kjv-text``; it works offline from then on.

The model is a GPT-2 from Hugging Face ``transformers`` with a small config (2 layers, 4 heads,
width 64, context 64 characters; random init, about 110,000 parameters), on characters: its
vocabulary is the corpus's characters.  Dropout is off, so every run equals the plain PyTorch loop
whichever engine trains it (see docs/your-model.md).  The wrapper returns the logits, the loss
flattens them for cross-entropy; the extra metric is bits per character (the loss in base 2, so
its batch mean is exact), and the ranking is by final validation loss (perplexity = its exp).

Three decay shapes with the same peak rate (3e-3) and warmup (10% of the steps), two seeds each,
AdamW: warmup + cosine written with schedlab's kinds, WSD (warmup-stable-decay, the last 20% of
the steps decaying), and linear decay written with Hugging Face's name and step counts
(``hf("linear", ...)`` is ``get_linear_schedule_with_warmup``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import torch
from torch import nn
from torch.nn import functional as F

from schedlab.lab import compare

SMOKE = os.environ.get("SCHEDLAB_EXAMPLE_SMOKE") == "1"
CONTEXT = 64  # characters per sequence
TRAIN_SEQS = 64 if SMOKE else 2000  # from the first 90% of the text
VAL_SEQS = 16 if SMOKE else 200  # from the last 10% (Revelation and the letters before it)
EPOCHS = 1 if SMOKE else 2
SEEDS = 1 if SMOKE else 2
BATCH = 32
INSTALL = "apt-get install bible-kjv bible-kjv-text"


def kjv_text() -> str:
    """The whole King James Bible, one verse per line (references stripped)."""
    if shutil.which("bible") is None or not os.path.exists("/usr/lib/bible.data"):
        sys.exit(f"the KJV corpus is not installed; on Debian or Ubuntu: {INSTALL}")
    out = subprocess.run(
        ["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True
    ).stdout
    return "\n".join(line.split(" ", 1)[1] for line in out.splitlines() if " " in line)


def sequences(text: str, vocab: dict[str, int]) -> tuple[tuple, tuple]:
    """Non-overlapping (input, next-character target) windows: train from the start of the
    text, validation from its last 10%."""
    ids = torch.tensor([vocab[c] for c in text], dtype=torch.int64)
    cut = int(0.9 * len(ids))

    def windows(part: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        blocks = part[: n * CONTEXT + 1]
        x = blocks[:-1].view(n, CONTEXT)
        y = blocks[1:].view(n, CONTEXT)
        return x, y

    return windows(ids[:cut], TRAIN_SEQS), windows(ids[cut:], VAL_SEQS)


class TinyGPT(nn.Module):
    """GPT-2 (transformers, random init) whose forward pass returns the logits tensor."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(
            vocab_size=vocab_size, n_positions=CONTEXT, n_embd=64, n_layer=2, n_head=4,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
        )  # fmt: skip
        self.net = GPT2LMHeadModel(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(input_ids=x).logits  # (batch, CONTEXT, vocab)


def lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy (nats) over every position of the batch."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


def bits_per_char(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float(lm_loss(logits, y)) / math.log(2)


def main() -> None:
    text = kjv_text()
    chars = sorted(set(text))
    vocab = {c: i for i, c in enumerate(chars)}
    train, val = sequences(text, vocab)
    steps = EPOCHS * math.ceil(TRAIN_SEQS / BATCH)  # unit="step": t counts optimizer steps
    warm = max(1, steps // 10)
    result = compare(
        model=lambda: TinyGPT(len(chars)),
        train=train,
        val=val,
        loss=lm_loss,
        metrics={"bpc": bits_per_char},
        optimizer=(torch.optim.AdamW, {"betas": (0.9, 0.95), "weight_decay": 0.1}),
        schedules={
            "warmup_cosine": f"warmup(cosine(lr=3e-3, steps={steps - warm}), steps={warm})",
            "wsd": f"wsd(lr=3e-3, steps={steps}, decay_steps={steps // 5}, warmup_steps={warm})",
            "linear": f'hf("linear", 3e-3, num_warmup_steps={warm}, num_training_steps={steps})',
        },
        seeds=SEEDS,
        epochs=EPOCHS,
        batch_size=BATCH,
        unit="step",
        metric="val_loss",
        store="runs/tiny-gpt-kjv.sqlite",
        name="tiny-gpt-kjv-smoke" if SMOKE else "tiny-gpt-kjv",
        model_name="TinyGPT",
        data_name=f"kjv-{CONTEXT}x{TRAIN_SEQS}",
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
    print(f"corpus: King James Bible, {len(text):,} characters, {len(chars)} distinct")
    print(f"engine: {result.engine}")
    for i, row in enumerate(result.ranking, 1):
        loss = row.final.mean
        print(f"{i}. {row.label:14s} val loss {loss:.4f}  perplexity {math.exp(loss):.3f}")
    print(f"report: {result.report('out/tiny-gpt-kjv')}")


if __name__ == "__main__":
    main()
