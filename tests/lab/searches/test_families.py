"""Family templates and ranges: what a member is, and one clear line for each bad input."""

from __future__ import annotations

import math

import pytest

import schedlab
from schedlab.errors import ConfigError, SchedlabError, SpecError
from schedlab.lab.searches.families import parse_families, parse_family, parse_range

LR = {"lr": "loguniform(1e-4, 1)"}


@pytest.mark.parametrize(
    ("template", "values", "budget", "expected"),
    [
        ("cosine(lr=?, steps=E)", {"lr": 0.5}, 100, "cosine(lr=0.5, steps=100)"),
        ("constant(?)", {"lr": 0.01}, 7, "constant(0.01)"),
        ("linear(?, 0, E)", {"start_lr": 0.2}, 40, "linear(0.2, 0.0, 40)"),
        ("one_cycle(max_lr=?, steps=E)", {"max_lr": 0.3}, 50, "one_cycle(0.3, 50)"),
        (
            'wsd(lr=?, steps=E, decay_steps=0.2*E, decay="1-sqrt")',
            {"lr": 0.1},
            1125,
            'wsd(0.1, 1125, decay_steps=225, decay="1-sqrt")',
        ),
        ("cosine(lr=?, steps=E, min_lr=0.1*lr)", {"lr": 0.5}, 10, "cosine(0.5, 10, min_lr=0.05)"),
        (  # step counts round to the nearest integer, halves up: 0.05 * 30 = 1.5 -> 2
            "warmup(cosine(lr=?, steps=E - round(0.05*E)), steps=0.05*E)",
            {"lr": 0.1},
            30,
            "warmup(cosine(0.1, 28), steps=2)",
        ),
        ("cosine(lr=?, steps=max(E // 1, 5))", {"lr": 0.1}, 3, "cosine(0.1, 5)"),
        ("schedule_free(constant(?))", {"lr": 0.2}, 9, "schedule_free(constant(0.2))"),
        ("step(?peak, step_size=E/3, gamma=?g)", {"peak": 0.1, "g": 0.5}, 9, "step(0.1, 3, 0.5)"),
        ("multistep(?, milestones=[0.5*E, 0.75*E])", {"lr": 0.1}, 100, "multistep(0.1, [50, 75])"),
    ],
)
def test_members_are_the_template_filled_in(template, values, budget, expected) -> None:
    ranges = {**LR, "g": "uniform(0.1, 0.9)", "peak": "loguniform(1e-3, 1)"}
    fam = parse_family("f", template, ranges)
    assert sorted(fam.names) == sorted(values)
    assert schedlab.from_spec(fam.spec(values, budget)) == schedlab.from_spec(expected)


def test_free_rates_take_the_lr_range_and_their_own_first() -> None:
    fam = parse_family("lin", "linear(?, 0, E)", {"lr": "loguniform(1e-3, 1)"})
    assert fam.free[0].name == "start_lr" and str(fam.free[0].range) == "loguniform(0.001, 1)"
    own = parse_family("lin", "linear(?, 0, E)", {**LR, "start_lr": "uniform(0.1, 0.2)"})
    assert str(own.free[0].range) == "uniform(0.1, 0.2)"


def test_ranges() -> None:
    assert parse_range("lr", "loguniform(1e-4, 1)").distribution().log
    assert parse_range("n", "int(1, 5)").grid(5) == [1, 2, 3, 4, 5]
    assert parse_range("x", [1, 2]).grid(9) == [1, 2]
    grid = parse_range("lr", "loguniform(1e-3, 1)").grid(4)
    assert [round(math.log10(g), 6) for g in grid] == [-3, -2, -1, 0]


# Every bad family or range: one line, naming what is wrong, as a SchedlabError (CLI exit 2).
BAD = [
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "loguniform(0, 1)"}, "ranges: lr: loguniform needs 0 < low < high"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "loguniform(1, 0.1)"}, "needs low < high"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "logunif(1e-3, 1)"}, "unknown range 'logunif'"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "uniform(1e-3)"}, "needs two finite numbers"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "uniform(0, inf)"}, "must be numbers"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "int(0.5, 3)"}, "needs integer bounds"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": 0.1}, "ranges: lr must be loguniform"),
    ({"c": "cosine(lr=?, steps=E)"}, {**LR, "gamma": "uniform(0, 1)"}, "'gamma' is not a free parameter of any family"),
    ({"c": "cosine(lr=?, steps=E)"}, {"lr": "uniform(-1, 1)"}, "lr must be a finite number >= 0"),
    ({"c": "cosin(lr=?, steps=E)"}, LR, "unknown schedule kind 'cosin'; valid kinds: constant"),
    ({"c": "cosine(lr=?, steps=E, floor=0)"}, LR, "cosine has no parameter 'floor'; valid: lr, steps, min_lr"),
    ({"c": "cosine(lr=?, steps=F)"}, LR, "unknown name 'F'; use E"),
    ({"c": "cosine(lr=0.1, steps=E)"}, LR, "no free parameter"),
    ({"c": "linear(?, 0)"}, LR, "linear: missing required parameter 'steps'"),
    ({"c": "step(?, step_size=E, gamma=?)"}, LR, "free parameter 'gamma' has no range"),
    ({"c": "sequence([constant(?), cosine(?, E)], [E])"}, LR, "two free parameters named 'lr'"),
    ({"c": "cosine(lr=?, steps=E"}, LR, "cannot parse it"),
    ({"c": "cosine(lr=?, steps=sqrt(E))"}, LR, "unknown schedule kind 'sqrt'"),
    ({"c": "cosine(lr=?, steps=E % 7)"}, LR, "arithmetic over numbers, E and free parameters"),
    ({"c": "warmup(?, steps=3)"}, LR, "schedule (a nested schedule) cannot be a free parameter"),
    ({"c": 'hf("cosine", ?, 0, E)'}, LR, "the hf kind cannot be a family"),
    (["cosine(lr=?, steps=E)", "cosine(lr=?, steps=E, min_lr=0)"], LR, "repeated: cosine"),
    ({"c": {"family": "cosine(lr=?, steps=E)", "ranges": {"gamma": "uniform(0, 1)"}}}, LR, "'gamma' is not one of its free parameters"),
    ([], LR, "families must be a non-empty list"),
    ({"w": "wsd(lr=?, steps=E, decay_steps=2*E)"}, LR, "wsd: "),
]  # fmt: skip


@pytest.mark.parametrize(("families", "ranges", "message"), BAD)
def test_bad_families_and_ranges_fail_in_one_line(families, ranges, message) -> None:
    with pytest.raises(SchedlabError) as info:
        parse_families(families, ranges, [10, 30])
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert isinstance(info.value, (ConfigError, SpecError))


def test_defaults_are_not_required_to_be_used() -> None:
    fams = parse_families({"s": "step(0.1, step_size=?, gamma=0.5)"}, {"step_size": "int(1, 5)"},
                          [10], defaults={"lr": "loguniform(1e-4, 1)"})  # fmt: skip
    assert fams[0].names == ("step_size",)


def test_labels_default_to_the_kind() -> None:
    fams = parse_families(["cosine(lr=?, steps=E)", "lin=linear(?, 0, E)"], LR, [10])
    assert [f.label for f in fams] == ["cosine", "lin"]


def test_the_example_config_is_a_valid_search() -> None:
    from pathlib import Path

    from schedlab.lab.searches.settings import build_search_settings
    from schedlab.lab.sweeps.settings import read_config_file

    path = Path(__file__).resolve().parents[3] / "examples" / "search.yaml"
    s = build_search_settings(read_config_file(path), {})
    fams = parse_families(s.families, s.ranges, [125, 375, 1125])
    assert [f.label for f in fams] == ["cosine", "wsd", "linear", "one_cycle", "constant"]
    assert (s.trials, s.eta, s.config().epochs, s.config().unit) == (9, 3, 9, "step")
