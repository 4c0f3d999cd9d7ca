"""Every script in examples/ runs end to end at a tiny size (``SCHEDLAB_EXAMPLE_SMOKE=1``), as a
user runs it: a fresh process, started in an empty folder (its store and report land there)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from schedlab.lab.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(script: str, folder: Path, data_root: Path) -> str:
    env = {
        **os.environ,
        "SCHEDLAB_EXAMPLE_SMOKE": "1",
        "SCHEDLAB_DATA": str(data_root),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "KERAS_BACKEND": "torch",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], cwd=folder, env=env, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _stored(folder: Path, store: str) -> list:
    with RunStore(folder / "runs" / store) as s:
        return s.runs()


def test_resnet18_on_fashion_mnist(tmp_path, data_root) -> None:
    out = _run("resnet18_fashion_mnist.py", tmp_path, data_root)
    assert "ResNet-18" in out and "engine: " in out
    assert [line.split()[1] for line in out.splitlines() if line[:2] in ("1.", "2.", "3.")]
    runs = _stored(tmp_path, "resnet18-fashion.sqlite")
    assert len(runs) == 3 and {r.status for r in runs} == {"finished"}
    assert list((tmp_path / "out" / "resnet18-fashion").glob("*.html"))


def _kjv_installed() -> bool:
    return shutil.which("bible") is not None and Path("/usr/lib/bible.data").is_file()


@pytest.mark.skipif(
    not _kjv_installed(), reason="KJV corpus missing: apt-get install bible-kjv bible-kjv-text"
)
def test_tiny_gpt_on_the_king_james_bible(tmp_path, data_root) -> None:
    out = _run("tiny_gpt_kjv.py", tmp_path, data_root)
    assert "King James Bible, 4," in out and "perplexity" in out
    labels = {line.split()[1] for line in out.splitlines() if "perplexity" in line}
    assert labels == {"warmup_cosine", "wsd", "linear"}
    runs = _stored(tmp_path, "tiny-gpt-kjv.sqlite")
    assert {r.status for r in runs} == {"finished"}


def test_keras_model_through_run_trials(tmp_path, data_root) -> None:
    out = _run("keras_trials.py", tmp_path, data_root)
    assert {line.split()[1] for line in out.splitlines() if "final val_acc" in line} == {
        "constant", "step", "cosine",
    }  # fmt: skip
    runs = _stored(tmp_path, "keras-trials.sqlite")
    assert len(runs) == 3 and {r.status for r in runs} == {"finished"}


def test_keras_checkpoint_keeps_the_optimizer_step(monkeypatch, data_root) -> None:
    """What a resumed trial continues from: the weights and the schedule's step counter."""
    monkeypatch.setenv("SCHEDLAB_EXAMPLE_SMOKE", "1")
    monkeypatch.setenv("SCHEDLAB_DATA", str(data_root))
    spec = importlib.util.spec_from_file_location("keras_trials", EXAMPLES / "keras_trials.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import keras
    import numpy as np

    from schedlab.adapters.keras import KerasSchedule

    model = module.build()
    lr = KerasSchedule("cosine(0.1, 2)", steps_per_epoch=2, unit="epoch")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
                  loss="sparse_categorical_crossentropy")  # fmt: skip
    model.fit(module.X_TRAIN[:128], module.Y_TRAIN[:128], batch_size=64, epochs=1, verbose=0)
    back = module.from_bytes(module.to_bytes(model))
    assert int(back.optimizer.iterations) == 2
    assert back.optimizer._learning_rate.schedule.spec() == lr.schedule.spec()
    for a, b in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
