"""The ``hf`` kind against Hugging Face ``transformers.get_scheduler``, every name, over the whole
run (``num_training_steps``, warmup included) and past it where Hugging Face holds too.

Hugging Face's schedulers are ``LambdaLR``s (``base_lr * factor(t)``, float64 Python math), stepped
here on a real SGD optimizer.  Where Hugging Face uses the textbook ``(1 + cos x) / 2`` or
``1 - sqrt(x)``, its value is only *absolutely* precise as it approaches zero, so an absolute
slack of a few ``eps * lr`` is added to ``rtol=1e-12``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sched_cases import EPS, HF_NAMES, PROFILE, hf_params

import schedlab

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

#: Names whose value Hugging Face holds after num_training_steps (its cosines follow the wave).
HOLDS = {"linear", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
         "inverse_sqrt", "warmup_stable_decay"}  # fmt: skip
EXTRA = 40  # steps checked past num_training_steps where Hugging Face holds


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hf_rates(s: schedlab.Schedule, n: int) -> np.ndarray:
    """The rate a real SGD uses at steps 0 .. n-1 under ``get_scheduler`` with ``s``'s arguments."""
    q = dict(s.params)
    name, lr = q.pop("name"), q.pop("lr")
    warm, total = q.pop("num_warmup_steps"), q.pop("num_training_steps", None)
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    with warnings.catch_warnings():  # both num_training_steps and num_stable_steps: HF warns
        warnings.simplefilter("ignore")
        sched = transformers.get_scheduler(
            name, opt, num_warmup_steps=warm, num_training_steps=total,
            scheduler_specific_kwargs=q,
        )  # fmt: skip
    rates = []
    for _ in range(n):
        rates.append(opt.param_groups[0]["lr"])
        param.grad = torch.ones_like(param)
        opt.step()
        sched.step()
    return np.array(rates, dtype=np.float64)


def assert_matches(ours, ref, atol) -> None:
    bad = np.abs(ours - ref) > 1e-12 * np.abs(ref) + atol
    assert not bad.any(), (np.flatnonzero(bad)[:3], ours[bad][:3], ref[bad][:3])


@pytest.mark.parametrize("name", HF_NAMES)
@PROFILE
@given(data=st.data())
def test_every_name_matches_get_scheduler(name, data):
    s = data.draw(hf_params(name), label="schedule")
    q = s.params
    total = s.horizon
    n = total + 1 + (EXTRA if name in HOLDS else 0)
    ref = hf_rates(s, n)
    ours = s(np.arange(n))
    lr, warm = q["lr"], q["num_warmup_steps"]
    atol = 4 * EPS * lr * max(1.0, 4 * q.get("num_cycles", 1.0))
    if name == "inverse_sqrt":  # HF forms t + (timescale - warmup), rounding |shift| * eps
        timescale = q.get("timescale", warm or 10_000)
        atol = 2 * EPS * lr * max(1.0, abs(timescale - warm))
    if name == "cosine_with_restarts":
        # HF's ((num_cycles * progress) % 1) can round a restart step to the cycle's end (~0 for
        # lr); ours forms the cycle exactly.  Compare the restart steps with the exact value.
        cycles, span = q.get("num_cycles", 1.0), total - warm
        k = np.arange(n) - warm
        exact_restart = (k > 0) & (k < span) & ((cycles * k) % span == 0)
        assert np.all(ours[exact_restart] == lr)
        ours, ref = ours[~exact_restart], ref[~exact_restart]
    assert_matches(ours, ref, atol)


def test_hf_cosine_is_a_warmup_of_a_cosine_over_the_steps_after_it():
    """The point of the kind: num_training_steps counts the warmup; with warmup(cosine(...)) the
    cosine's steps are the run *without* it (and the run length as cosine steps is too long)."""
    ours = schedlab.hf("cosine", 3e-4, num_warmup_steps=500, num_training_steps=10_000)
    same = schedlab.warmup(schedlab.cosine(3e-4, steps=9_500), steps=500)
    t = np.arange(10_001)
    np.testing.assert_allclose(ours(t), same(t), rtol=1e-15, atol=1e-19)
    assert ours.horizon == 10_000 and same.horizon == 10_000
    too_long = schedlab.warmup(schedlab.cosine(3e-4, steps=10_000), steps=500)
    assert too_long.horizon == 10_500 and too_long(10_000) > 1e-7


def test_spec_repr_and_round_trips_keep_only_the_given_arguments():
    s = schedlab.hf("polynomial", 0.1, num_warmup_steps=10, num_training_steps=100, power=2.0)
    assert repr(s) == (
        'hf(name="polynomial", lr=0.1, num_warmup_steps=10, num_training_steps=100, power=2.0)'
    )
    assert s.spec() == {
        "kind": "hf", "name": "polynomial", "lr": 0.1, "num_warmup_steps": 10,
        "num_training_steps": 100, "power": 2.0,
    }  # fmt: skip
    for form in (repr(s), s.spec(), 'hf("polynomial", 0.1, 10, 100, power=2.0)'):
        assert schedlab.from_spec(form) == s
    assert schedlab.from_spec("hf('constant', 0.1)") == schedlab.hf("constant", 0.1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "cosin"}, "hf: name must be one of 'linear', 'cosine'"),
        ({"name": "cosine", "num_training_steps": None},
         r"hf: num_training_steps \(the whole run, warmup included\) is required with "
         r"name='cosine', got None"),
        ({"name": "cosine", "num_warmup_steps": 100},
         r"hf: num_warmup_steps must be < num_training_steps \(100\), got 100"),
        ({"name": "cosine", "power": 2.0},
         r"hf: power is not an argument of name='cosine' \(its own arguments: num_cycles\), "
         r"got power=2.0"),
        ({"name": "linear", "num_cycles": 2},
         r"hf: num_cycles is not an argument of name='linear' \(its own arguments: none\)"),
        ({"name": "constant", "num_warmup_steps": 5},
         r"hf: num_warmup_steps must be 0 with name='constant' \(use 'constant_with_warmup'\), "
         r"got 5"),
        ({"name": "cosine_with_restarts", "num_cycles": 1.5},
         "hf: num_cycles must be a positive integer with name='cosine_with_restarts', got 1.5"),
        ({"name": "polynomial", "lr_end": 0.2}, r"hf: lr_end must be < lr \(0.1\)"),
        ({"name": "cosine_with_min_lr"}, "needs exactly one of min_lr and min_lr_rate"),
        ({"name": "cosine_with_min_lr", "min_lr": 0.01, "min_lr_rate": 0.1},
         "needs exactly one of min_lr and min_lr_rate"),
        ({"name": "warmup_stable_decay"}, "hf: num_decay_steps is required"),
        ({"name": "warmup_stable_decay", "num_decay_steps": 95},
         r"hf: num_warmup_steps \+ num_decay_steps must be <= num_training_steps \(100\), "
         r"got 10 \+ 95"),
        ({"name": "warmup_stable_decay", "num_decay_steps": 20, "num_stable_steps": 30},
         r"must equal num_training_steps \(100\) when both are given, got 10 \+ 30 \+ 20"),
        ({"name": "warmup_stable_decay", "num_decay_steps": 20, "num_training_steps": None},
         "needs num_training_steps or num_stable_steps"),
        ({"name": "cosine", "num_training_steps": 0},
         "hf: num_training_steps must be a positive integer, got 0"),
        ({"name": "cosine", "lr": -1.0}, "hf: lr must be a finite number >= 0, got -1.0"),
        ({"name": "warmup_stable_decay", "num_decay_steps": 20, "decay_type": "exp"},
         "hf: decay_type must be one of 'linear', 'cosine', '1-sqrt', got 'exp'"),
    ],
)  # fmt: skip
def test_errors_name_the_argument_constraint_and_value(kwargs, match):
    args = {"lr": 0.1, "num_warmup_steps": 10, "num_training_steps": 100, **kwargs}
    with pytest.raises(schedlab.errors.SpecError, match=match):
        schedlab.hf(**args)
