"""The winner's copy-paste snippets run: PyTorch (executed, rates checked step by step), the
schedule-free loop, Lightning's configure_optimizers, optax (executed, rates checked), Keras
(fit), and the Hugging Face one compiles and names what it uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

import schedlab
from schedlab.adapters.snippets import FRAMEWORKS, snippets
from schedlab.adapters.torch import ScheduleLR
from schedlab.errors import ConfigError

SPEC = 'wsd(lr=0.1, steps=12, decay_steps=4, decay="1-sqrt")'


def _torch_namespace(seen: list[float]) -> dict:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    loader = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(3)]  # 3 steps/epoch

    def loss_fn(out, y):
        return nn.functional.cross_entropy(out, y)

    return {"model": model, "loader": loader, "loss_fn": loss_fn, "seen": seen}


def _record(namespace: dict) -> None:
    """Record the rate of every optimizer step (torch's global optimizer step pre-hook)."""
    seen = namespace["seen"]
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    namespace["_handle"] = handle


@pytest.mark.parametrize(("unit", "spe"), [("step", None), ("epoch", 3)])
def test_the_pytorch_snippet_runs_the_schedule(unit, spe) -> None:
    spec = SPEC if unit == "step" else "cosine(lr=0.1, steps=4)"
    code = snippets(spec, unit=unit, steps_per_epoch=spe, epochs=4)["pytorch"]
    ns = _torch_namespace([])
    _record(ns)
    try:
        exec(compile(code, "<pytorch snippet>", "exec"), ns)
    finally:
        ns["_handle"].remove()
    assert isinstance(ns["scheduler"], ScheduleLR)
    schedule = schedlab.from_spec(spec)
    steps = np.arange(12)
    want = schedule(steps if unit == "step" else steps // 3)
    assert ns["seen"] == pytest.approx(list(want), rel=1e-12)


def test_the_schedule_free_pytorch_snippet_runs() -> None:
    import schedulefree

    code = snippets("schedule_free(constant(0.2))", epochs=2)["pytorch"]
    ns = _torch_namespace([])
    before = ns["model"].weight.detach().clone()
    exec(compile(code, "<sf snippet>", "exec"), ns)
    opt = ns["optimizer"]
    assert isinstance(opt, schedulefree.SGDScheduleFree)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["k"] == 6
    assert not opt.param_groups[0]["train_mode"]  # left at the averaged point, for evaluation
    assert not torch.equal(before, ns["model"].weight)
    warm = snippets("schedule_free(warmup(constant(0.2), steps=3))", epochs=2)["pytorch"]
    ns = _torch_namespace([])
    exec(compile(warm, "<sf warmup snippet>", "exec"), ns)
    assert ns["optimizer"].param_groups[0]["lr"] == pytest.approx(0.2)
    assert isinstance(ns["scheduler"], ScheduleLR)


def test_the_lightning_snippet_gives_a_scheduler_per_step() -> None:
    code = snippets(SPEC)["lightning"]
    ns: dict = {}
    exec(compile(code, "<lightning snippet>", "exec"), ns)
    config = ns["configure_optimizers"](nn.Linear(3, 2))
    assert isinstance(config["lr_scheduler"]["scheduler"], ScheduleLR)
    assert config["lr_scheduler"]["interval"] == "step"


def test_the_optax_snippet_runs_the_schedule() -> None:
    jnp = pytest.importorskip("jax.numpy")
    code = snippets(SPEC, optimizer="sgd")["optax"]
    ns = {"params": {"w": jnp.zeros(2)}}
    exec(compile(code, "<optax snippet>", "exec"), ns)
    tx, state = ns["tx"], ns["opt_state"]
    schedule = schedlab.from_spec(SPEC)
    params = ns["params"]
    for _ in range(3):
        updates, state = tx.update({"w": jnp.ones(2)}, state, params)
        params = {"w": params["w"] + updates["w"]}
    assert float(params["w"][0]) < 0
    got = [float(ns["schedule"](t)) for t in range(14)]
    assert got == pytest.approx(list(schedule(np.arange(14))), rel=1e-6)  # float32 in jax
    free = snippets("schedule_free(constant(0.2))")["optax"]
    ns = {"params": {"w": jnp.zeros(2)}}
    exec(compile(free, "<optax sf snippet>", "exec"), ns)
    assert "eval_params" in ns


def test_the_keras_snippet_fits() -> None:
    keras = pytest.importorskip("keras")
    code = snippets(SPEC, epochs=1)["keras"]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    ns = {"model": model, "x_train": x, "y_train": y}
    exec(
        compile(code.replace("epochs=1)", "epochs=1, batch_size=4, verbose=0)"), "<keras>", "exec"),
        ns,
    )
    opt = ns["optimizer"]
    assert int(opt.iterations) == 2
    assert float(opt.learning_rate) == pytest.approx(schedlab.from_spec(SPEC)(2), rel=1e-6)


def test_every_snippet_compiles_and_names_the_spec() -> None:
    for spec in (
        SPEC,
        "schedule_free(constant(0.1))",
        "schedule_free(warmup(constant(0.1), steps=5))",
    ):
        code = snippets(spec, unit="epoch", steps_per_epoch=10, optimizer="AdamW")
        assert set(code) == {"spec", *FRAMEWORKS}
        for framework in FRAMEWORKS:
            compile(code[framework], framework, "exec")
    hf = snippets(SPEC)["huggingface"]
    assert "optimizers=(optimizer, scheduler)" in hf and repr(schedlab.from_spec(SPEC)) in hf
    hf_free = snippets("schedule_free(constant(0.1))", optimizer="AdamW")["huggingface"]
    assert 'optim="schedule_free_adamw"' in hf_free


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unit='epoch' needs steps_per_epoch"):
        snippets(SPEC, unit="epoch")
    with pytest.raises(ValueError, match="unknown schedule kind"):
        snippets("cosin(0.1, 10)")
