"""The spec language (dict, JSON, YAML, text form) and its errors (docs/schedules.md "Spec language")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import schedlab
from schedlab import from_spec
from schedlab.errors import SpecError

COSINE = schedlab.cosine(lr=0.1, steps=100, min_lr=0.0)
NESTED = schedlab.warmup(schedlab.cosine(lr=0.1, steps=100), steps=10)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "cosine", "lr": 0.1, "steps": 100},
        '{"kind": "cosine", "lr": 0.1, "steps": 100}',
        "kind: cosine\nlr: 0.1\nsteps: 100\n",
        "{kind: cosine, lr: 0.1, steps: 100}",
        "cosine(lr=0.1, steps=100)",
        "cosine(0.1, 100)",
        "cosine(0.1, steps=100, min_lr=0)",
        "  cosine( 0.1 ,\n 100 )  ",
        COSINE,
    ],
)
def test_every_form_gives_the_same_schedule(spec):
    assert from_spec(spec) == COSINE


@pytest.mark.parametrize(
    "spec",
    [
        "warmup(cosine(lr=0.1, steps=100), steps=10)",
        "warmup(cosine(0.1, 100), 10, 0.0, 'linear')",
        'warmup(schedule=cosine(lr=0.1, steps=100), steps=10, shape="linear")',
        {"kind": "warmup", "schedule": {"kind": "cosine", "lr": 0.1, "steps": 100}, "steps": 10},
        {"kind": "warmup", "schedule": "cosine(lr=0.1, steps=100)", "steps": 10},
        "kind: warmup\nschedule:\n  kind: cosine\n  lr: 0.1\n  steps: 100\nsteps: 10\n",
        "kind: warmup\nschedule: cosine(lr=0.1, steps=100)\nsteps: 10\n",
        "{kind: warmup, schedule: {kind: cosine, lr: 0.1, steps: 100}, steps: 10}",
        json.dumps(NESTED.spec()),
        repr(NESTED),
    ],
)
def test_nested_forms(spec):
    assert from_spec(spec) == NESTED


def test_lists_and_nested_lists():
    s = from_spec("sequence([constant(0.1), linear(0.1, 0.0, 10)], boundaries=[5])")
    assert s(4) == 0.1 and s(10) == 0.05
    assert from_spec("piecewise_linear([[0, 0.0], [10, 1.0]])")(5) == 0.5
    assert from_spec("multistep(1.0, (2, 4), 0.5)")(4) == 0.25  # tuples are lists


@pytest.mark.parametrize("word", ["true", "True", "TRUE", "tRuE"])
def test_true_in_any_case(word):
    assert from_spec(f"exponential(1.0, 0.5, every=2, staircase={word})").params["staircase"]


@pytest.mark.parametrize("word", ["false", "False", "FALSE"])
def test_false_in_any_case(word):
    assert not from_spec(f"polynomial(1.0, 10, cycle={word})").params["cycle"]


@pytest.mark.parametrize("word", ["None", "none", "NONE", "null"])
def test_none_in_any_case(word):
    assert from_spec(f"cyclic(0.0, 1.0, 2, step_size_down={word})").params["step_size_down"] is None


@pytest.mark.parametrize("quoted", ["'exp_range'", '"exp_range"'])
def test_quoted_strings(quoted):
    assert from_spec(f"cyclic(0.0, 1.0, 2, mode={quoted}, gamma=0.9)").params["mode"] == "exp_range"


def test_signed_numbers():
    assert from_spec("constant(+0.5)")(0) == 0.5
    with pytest.raises(ValueError, match=r"constant: lr must be a finite number >= 0, got -0\.5"):
        from_spec("constant(-0.5)")


# --- errors --------------------------------------------------------------------------------------


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(ValueError) as err:
        from_spec("cosin(lr=0.1, steps=10)")
    message = str(err.value)
    assert "unknown schedule kind 'cosin'" in message and "did you mean 'cosine'" in message
    assert all(kind in message for kind in schedlab.kinds())
    with pytest.raises(ValueError, match="valid kinds: constant, step"):
        from_spec({"kind": "nope"})
    with pytest.raises(ValueError, match="needs a 'kind' key"):
        from_spec({"lr": 0.1})


def test_unknown_parameter_lists_the_kinds_parameters():
    with pytest.raises(
        ValueError,
        match=r"cosine: unknown parameter 'eta_min'; valid parameters: "
        r"lr, steps, min_lr",
    ):
        from_spec("cosine(lr=0.1, steps=10, eta_min=0.0)")
    with pytest.raises(ValueError, match="step: unknown parameter 'T_max'"):
        from_spec({"kind": "step", "lr": 0.1, "step_size": 2, "T_max": 3})


def test_missing_parameter_and_extra_positional():
    with pytest.raises(ValueError, match="cosine: missing required parameter 'steps'"):
        from_spec("cosine(lr=0.1)")
    with pytest.raises(ValueError, match="constant: missing required parameter 'lr'"):
        from_spec("constant")
    with pytest.raises(ValueError, match="constant: takes at most 1 positional"):
        from_spec("constant(0.1, 0.2)")
    with pytest.raises(ValueError, match="given twice"):
        from_spec("constant(0.1, lr=0.2)")


# (kind, valid params, parameter, bad values) for every validated parameter.
GOOD = {
    "constant": {"lr": 0.1},
    "step": {"lr": 0.1, "step_size": 2, "gamma": 0.5},
    "multistep": {"lr": 0.1, "milestones": [2, 4], "gamma": 0.5},
    "exponential": {"lr": 0.1, "gamma": 0.5, "every": 2, "staircase": False},
    "inverse_time": {"lr": 0.1, "decay_rate": 0.5, "every": 2, "staircase": False},
    "polynomial": {"lr": 0.1, "steps": 10, "power": 2.0, "end_lr": 0.0, "cycle": False},
    "linear": {"start_lr": 0.1, "end_lr": 0.0, "steps": 10},
    "cosine": {"lr": 0.1, "steps": 10, "min_lr": 0.0},
    "cosine_restarts": {"lr": 0.1, "period": 10, "t_mult": 2, "m_mul": 0.5, "min_lr": 0.0},
    "cyclic": {
        "min_lr": 0.0,
        "max_lr": 0.1,
        "step_size_up": 2,
        "step_size_down": 3,
        "mode": "triangular",
        "gamma": 0.9,
    },
    "one_cycle": {
        "max_lr": 0.1,
        "steps": 10,
        "pct_start": 0.3,
        "anneal": "cos",
        "div_factor": 25.0,
        "final_div_factor": 1e4,
        "three_phase": False,
    },
    "warmup": {"schedule": "constant(0.1)", "steps": 5, "start_lr": 0.0, "shape": "linear"},
    "wsd": {
        "lr": 0.1,
        "steps": 10,
        "decay_steps": 3,
        "warmup_steps": 2,
        "decay": "linear",
        "min_lr": 0.0,
    },
    "inverse_sqrt": {"lr": 0.1, "warmup_steps": 5, "timescale": 10.0},
    "piecewise_constant": {"boundaries": [2, 4], "values": [0.1, 0.05, 0.01]},
    "piecewise_linear": {"points": [[0, 0.1], [10, 0.0]]},
    "sequence": {"schedules": ["constant(0.1)", "constant(0.2)"], "boundaries": [5]},
    "scale": {"schedule": "constant(0.1)", "by": 0.5},
}
RATE = [-0.1, float("nan"), float("inf"), True, "0.1", None, [0.1]]
POSITIVE = [0, -1.0, float("nan"), float("inf"), True, "1"]
STEPS = [0, -1, 1.5, 2.0, True, "2", None]
COUNT = [-1, 1.5, True, "2", None]
FLAG = [1, 0, "true", None]
BAD = {
    "lr": RATE,
    "min_lr": RATE,
    "max_lr": RATE,
    "end_lr": RATE,
    "start_lr": RATE,
    "decay_rate": RATE,
    "m_mul": RATE,
    "gamma": POSITIVE,
    "power": POSITIVE,
    "div_factor": POSITIVE,
    "final_div_factor": POSITIVE,
    "steps": STEPS,
    "step_size": STEPS,
    "period": STEPS,
    "every": STEPS,
    "step_size_up": STEPS,
    "step_size_down": [0, -1, 1.5, True, "2"],
    "warmup_steps": COUNT,
    "decay_steps": COUNT,
    "staircase": FLAG,
    "cycle": FLAG,
    "three_phase": FLAG,
    "t_mult": [0.5, 0, float("nan"), True, "2"],
    "pct_start": [-0.1, 1.1, float("nan"), True],
    "mode": ["exp", 1, None],
    "anneal": ["cosine", None],
    "shape": ["cos", None],
    "decay": ["sqrt", None],
    "timescale": [0, -1.0, True, float("inf")],
    "milestones": [[4, 2], [2, 2], [-1, 2], [1.5], [True], "2,4", 3],
    "boundaries": [[4, 2], [2, 2], [-1, 2], [True, 3], "2", 3],
    "values": [[0.1, -0.05, 0.01], [0.1, True, 0.1], "abc", []],
    "points": [
        [[10, 0.1], [0, 0.0]],
        [[0, -0.1], [10, 0.0]],
        [[0, 0.1, 2]],
        [],
        "x",
        [[True, 1.0]],
    ],
    "schedule": [0.1, None, "nope(1)", {"lr": 0.1}, [1]],
    "schedules": [[], "constant(0.1)", [0.1, 0.2], None],
    "by": [-1.0, True, None, "nope(1)", float("nan")],
}
CASES = [
    (kind, name, bad)
    for kind, params in GOOD.items()
    for name in params
    if not (kind == "sequence" and name == "boundaries")
    for bad in BAD[name]
    if not (kind == "piecewise_constant" and name == "boundaries" and bad == [True, 3])
    if not (kind == "warmup" and name == "steps" and bad == 0)  # warmup steps=0: no warmup
]


def test_good_params_are_good():
    for kind, params in GOOD.items():
        assert from_spec({"kind": kind, **params}).kind == kind


@pytest.mark.parametrize(("kind", "name", "bad"), CASES, ids=lambda v: repr(v)[:20])
def test_every_validated_parameter_names_kind_and_parameter(kind, name, bad):
    with pytest.raises(ValueError) as err:
        from_spec({"kind": kind, **GOOD[kind], name: bad})
    message = str(err.value)
    assert message.startswith(f"{kind}: ") and name in message, message


def test_messages_show_constraint_and_value():
    with pytest.raises(
        ValueError, match=re.escape("cosine: steps must be a positive integer, got 0")
    ):
        schedlab.cosine(lr=0.1, steps=0)
    with pytest.raises(
        ValueError, match=re.escape("step: gamma must be a finite number > 0, got True")
    ):
        schedlab.step(lr=0.1, step_size=2, gamma=True)
    with pytest.raises(
        ValueError, match=re.escape("constant: lr must be a finite number >= 0, got False")
    ):
        schedlab.constant(False)


def test_relations_between_parameters():
    with pytest.raises(
        ValueError, match=r"piecewise_constant: values must have len\(boundaries\) \+ 1 = 3"
    ):
        schedlab.piecewise_constant([2, 4], [0.1, 0.2])
    with pytest.raises(
        ValueError, match=r"sequence: boundaries must have len\(schedules\) - 1 = 1"
    ):
        schedlab.sequence([schedlab.constant(0.1), schedlab.constant(0.2)], [1, 2])
    with pytest.raises(ValueError, match="multistep: milestones must be strictly increasing"):
        schedlab.multistep(0.1, [4, 2])
    with pytest.raises(ValueError, match=r"cyclic: max_lr must be >= min_lr \(0.2\), got 0.1"):
        schedlab.cyclic(0.2, 0.1, 2)
    with pytest.raises(
        ValueError, match=r"wsd: warmup_steps \+ decay_steps must be <= steps \(10\), got 5 \+ 6"
    ):
        schedlab.wsd(0.1, 10, decay_steps=6, warmup_steps=5)
    with pytest.raises(ValueError, match="wsd: min_lr must be <= lr"):
        schedlab.wsd(0.1, 10, 2, min_lr=0.2)
    with pytest.raises(ValueError, match="warmup: start_lr must be > 0 with shape='exponential'"):
        schedlab.warmup(schedlab.constant(0.1), 5, shape="exponential")
    with pytest.raises(ValueError, match=r"warmup: shape='exponential' needs schedule\(0\) > 0"):
        schedlab.warmup(schedlab.constant(0.0), 5, start_lr=0.1, shape="exponential")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo pwned')",
        "__import__('os')",
        "cosine(lr=__import__('os'), steps=10)",
        "os.system('ls')",
        "cosine(lr=os.environ, steps=10)",
        "schedlab.cosine(lr=0.1, steps=10)",
        "lambda: 0",
        "cosine(lr=lambda: 0, steps=10)",
        "cosine(lr=0.1 + 0.2, steps=10)",
        "cosine(lr=2 ** 10, steps=10)",
        "cosine(lr=0.1, steps=10 * 10)",
        "cosine(lr=[0.1][0], steps=10)",
        "cosine(*[0.1, 10])",
        "cosine(**{'lr': 0.1, 'steps': 10})",
        "cosine(lr={'a': 1}, steps=10)",
        "cosine(lr=0.1, steps=10); import os",
        "cosine(lr=f'{0.1}', steps=10)",
        "cosine(lr=--0.1, steps=10)",
        "cosine(lr=1j, steps=10)",
        "cosine(lr=0.1, steps=10)(3)",
        "(lambda: cosine)()(lr=0.1, steps=10)",
    ],
)
def test_injection_attempts_are_rejected_without_evaluation(text):
    with pytest.raises(ValueError):
        from_spec(text)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').environ.setdefault('SCHEDLAB_SPEC_EVALUATED', '1')",
        "constant(__import__('os').environ.setdefault('SCHEDLAB_SPEC_EVALUATED', '1'))",
        "constant(lr=[__import__('os').environ.setdefault('SCHEDLAB_SPEC_EVALUATED', '1')])",
        "kind: constant\nlr: !!python/object/apply:os.putenv ['SCHEDLAB_SPEC_EVALUATED', '1']\n",
    ],
)
def test_injected_code_never_runs(text):
    import os

    os.environ.pop("SCHEDLAB_SPEC_EVALUATED", None)
    with pytest.raises(ValueError):
        from_spec(text)
    assert "SCHEDLAB_SPEC_EVALUATED" not in os.environ


def test_malformed_text_and_documents():
    for text in ["cosine(lr=0.1, steps=10", "", "   ", "[1, 2]", "- a\n- b\n", "42", "{bad json"]:
        with pytest.raises(ValueError):
            from_spec(text)
    with pytest.raises(ValueError, match="must be a dict, a string or a Schedule"):
        from_spec(3.5)
    with pytest.raises(ValueError, match="too long"):
        from_spec("constant(" + " " * 200_000 + "0.1)")
    with pytest.raises(ValueError, match=r"nested too deeply|unsupported|cannot parse"):
        from_spec("scale(" * 5_000 + "constant(0.1), 1" + ")" * 5_000)
    deep = "scale(" * 30 + "constant(0.1)" + ", 0.5)" * 30  # reasonable nesting works
    assert from_spec(deep)(0) == pytest.approx(0.1 * 0.5**30, rel=1e-14)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "schedules.md"


def test_kinds_are_registered_in_the_order_of_the_docs_table():
    """The registry's order is the import order of the kind modules (no sorting at import):
    ``schedlab.kinds()`` lists the kinds in the order of the documented table."""
    table = DOCS.read_text().split("## Kinds")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z_]+)\(", table, flags=re.M)
    assert len(documented) == 20
    assert schedlab.kinds() == documented
    assert list(schedlab.schedules.KINDS) == documented


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cosine(lr=abc, steps=10)", "cosine: lr must be a number, a quoted string, "
         "true/false/none, a list or a kind(...) call, got abc (column 11) "
         "(text must be quoted: 'abc')"),
        ("cosine(abc, 10)", "cosine: lr must be a number"),
        ("cosine(0.1, steps=10 * 10)", "cosine: steps must be a number, a quoted string, "
         "true/false/none, a list or a kind(...) call, got 10 * 10 (column 19)"),
        ("cosine(0.1, 10, min_lr=os.environ)", "cosine: min_lr must be a number"),
        ("multistep(0.1, [10, x])", "multistep: milestones[1] must be a number"),
        ("warmup(cosine(lr=0.1, steps=abc), 5)", "cosine: steps must be a number"),
        ("sequence([constant(0.1), constant(lr=y)], [5])", "constant: lr must be a number"),
        ("constant(0.1, abc)", "constant: argument 2 must be a number"),
        ("cosine(lr=2 ** 70, steps=10)", "cosine: lr must be a number"),
    ],
)  # fmt: skip
def test_a_bad_value_in_the_text_form_names_its_parameter(text, message):
    with pytest.raises(SpecError) as err:
        from_spec(text)
    assert str(err.value).startswith(message), str(err.value)


def test_every_error_of_the_spec_layer_is_a_spec_error():
    for bad in ("cosin(0.1)", "cosine(0.1", {"lr": 0.1}, 3.5, "cosine(0.1, 0)", "constant(0.1, 2)",
                "cosine(0.1, 10, eta_min=0)", "sequence([constant(0.1)], [1])"):  # fmt: skip
        with pytest.raises(SpecError):
            from_spec(bad)
    with pytest.raises(SpecError, match="step must be a finite number >= 0, got -1"):
        schedlab.constant(0.1)(-1)


TOO_LARGE = "<= 2**53 (9007199254740992, the largest step float64 counts exactly)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "cosine", "lr": 0.1, "steps": 2**70},
         f"cosine: steps must be a positive integer {TOO_LARGE}, got 1180591620717411303424"),
        ("cosine(0.1, 1180591620717411303424)",
         f"cosine: steps must be a positive integer {TOO_LARGE}, got 1180591620717411303424"),
        ({"kind": "step", "lr": 0.1, "step_size": np.uint64(2**64 - 1)},
         f"step: step_size must be a positive integer {TOO_LARGE}, got "
         "np.uint64(18446744073709551615)"),
        ({"kind": "multistep", "lr": 0.1, "milestones": [10, 2**70]},
         f"multistep: milestones[1] must be an integer >= 0 {TOO_LARGE}, "
         "got 1180591620717411303424"),
        ({"kind": "multistep", "lr": 0.1, "milestones": [10, 10**400]},
         f"multistep: milestones[1] must be an integer >= 0 {TOO_LARGE}, got 1" + "0" * 400),
        ({"kind": "piecewise_constant", "boundaries": [2**70], "values": [0.1, 0.01]},
         f"piecewise_constant: boundaries[0] must be a number {TOO_LARGE}, "
         "got 1180591620717411303424"),
        ({"kind": "piecewise_constant", "boundaries": [10**400], "values": [0.1, 0.01]},
         "piecewise_constant: boundaries[0] must be a finite number >= 0, got 1" + "0" * 400),
        ({"kind": "constant", "lr": 10**400}, "constant: lr must be a finite number >= 0, got 1"),
        ({"kind": "warmup", "schedule": "constant(0.1)", "steps": -(2**70)},
         "warmup: steps must be an integer >= 0, got -1180591620717411303424"),
    ],
)  # fmt: skip
def test_huge_step_counts_are_refused_with_the_value_as_given(spec, message):
    with pytest.raises(SpecError) as err:
        from_spec(spec)
    assert str(err.value) == message or str(err.value).startswith(message), str(err.value)


def test_the_largest_exact_step_count_is_accepted():
    s = schedlab.multistep(1.0, [10, 2**53], 0.5)
    assert s(2**53 - 1) == 0.5 and s(2**53) == 0.25
    assert schedlab.cosine(1.0, 2**53)(2**52) == pytest.approx(0.5, rel=1e-15)
